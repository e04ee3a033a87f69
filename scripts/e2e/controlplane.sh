#!/usr/bin/env bash
# The control plane in the driver netns: etcd, kube-apiserver on
# $DRIVER_IP:$APISERVER_PORT, kube-controller-manager, kube-scheduler, a fresh
# PKI, a bootstrap token with kubeadm's bootstrap RBAC, an admin kubeconfig,
# and the cluster's CNI stand-in (the e2e-cni DaemonSet, see cluster_cni).
#
#   controlplane.sh up     start (idempotent: a running control plane is kept)
#   controlplane.sh down   stop and remove its state
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root

CP=$E2E_STATE/controlplane
PKI=$CP/pki
LOGS=$E2E_STATE/logs
ADMIN_KUBECONFIG=$E2E_STATE/admin.kubeconfig
SERVER=https://$DRIVER_IP:$APISERVER_PORT

running() {
	local f=$CP/$1.pid
	[ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

cert() { # cert NAME SUBJECT [SAN]
	local name=$1 subj=$2 san=${3:-} ext
	[ -s "$PKI/$name.crt" ] && return 0
	openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
	openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
	ext=$PKI/$name.ext
	{
		echo "basicConstraints=CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		if [ -n "$san" ]; then
			echo "extendedKeyUsage=serverAuth"
			echo "subjectAltName=$san"
		else
			echo "extendedKeyUsage=clientAuth"
		fi
	} >"$ext"
	openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
		-days 30 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
	rm -f "$PKI/$name.csr" "$ext"
}

kubeconfig() { # kubeconfig FILE USER CERT
	local file=$1 user=$2 name=$3
	umask 077
	cat >"$file" <<-KC
		apiVersion: v1
		kind: Config
		clusters:
		- name: e2e
		  cluster:
		    server: $SERVER
		    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
		users:
		- name: $user
		  user:
		    client-certificate-data: $(base64 -w0 <"$PKI/$name.crt")
		    client-key-data: $(base64 -w0 <"$PKI/$name.key")
		contexts:
		- name: e2e
		  context: {cluster: e2e, user: $user}
		current-context: e2e
	KC
}

pki() {
	mkdir -p "$PKI"
	chmod 0700 "$PKI"
	if [ ! -s "$PKI/ca.crt" ]; then
		log "generating the cluster PKI with openssl in $PKI"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" \
			-days 30 -subj "/CN=add2tkectl-e2e-ca" \
			-addext "basicConstraints=critical,CA:TRUE" \
			-addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
		openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
		openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
	fi
	cert apiserver "/CN=kube-apiserver" \
		"IP:$DRIVER_IP,IP:10.96.0.1,IP:127.0.0.1,DNS:apiserver.e2e.local,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
	cert admin "/O=system:masters/CN=e2e-admin"
	cert controller-manager "/CN=system:kube-controller-manager"
	cert scheduler "/CN=system:kube-scheduler"
	kubeconfig "$CP/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
	kubeconfig "$CP/scheduler.kubeconfig" system:kube-scheduler scheduler
	kubeconfig "$ADMIN_KUBECONFIG.tmp" e2e-admin admin
	mv "$ADMIN_KUBECONFIG.tmp" "$ADMIN_KUBECONFIG"
	cp "$PKI/ca.crt" "$E2E_STATE/ca.crt"
}

# start NAME CMD...: run CMD in the driver netns, detached, logging to $LOGS/NAME.log.
start() {
	local name=$1
	shift
	if running "$name"; then
		return 0
	fi
	log "starting $name"
	(
		close_inherited_fds
		exec setsid ip netns exec "$NETNS_DRIVER" "$@"
	) </dev/null >>"$LOGS/$name.log" 2>&1 &
	echo $! >"$CP/$name.pid"
}

https_ok() { # https_ok URL: 2xx over TLS with the cluster CA (client cert for the API)
	curl -fsS --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$1"
}

kubectl_admin() { "$K8S_BIN/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }

bootstrap_objects() {
	local exp
	exp=$(date -u -d '+7 days' +%Y-%m-%dT%H:%M:%SZ)
	log "creating the bootstrap token $BOOTSTRAP_TOKEN_ID.* and kubeadm's bootstrap RBAC"
	kubectl_admin apply -f - >/dev/null <<-YAML
		apiVersion: v1
		kind: Secret
		metadata:
		  name: bootstrap-token-$BOOTSTRAP_TOKEN_ID
		  namespace: kube-system
		type: bootstrap.kubernetes.io/token
		stringData:
		  description: add2tkectl e2e bootstrap token
		  token-id: "$BOOTSTRAP_TOKEN_ID"
		  token-secret: "$BOOTSTRAP_TOKEN_SECRET"
		  expiration: "$exp"
		  usage-bootstrap-authentication: "true"
		  usage-bootstrap-signing: "true"
		  auth-extra-groups: system:bootstrappers:kubeadm:default-node-token
		---
		# bootstrappers may create CSRs
		apiVersion: rbac.authorization.k8s.io/v1
		kind: ClusterRoleBinding
		metadata: {name: "kubeadm:kubelet-bootstrap"}
		roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:node-bootstrapper"}
		subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:bootstrappers"}]
		---
		# their first client certificate is approved automatically
		apiVersion: rbac.authorization.k8s.io/v1
		kind: ClusterRoleBinding
		metadata: {name: "kubeadm:node-autoapprove-bootstrap"}
		roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:certificates.k8s.io:certificatesigningrequests:nodeclient"}
		subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:bootstrappers"}]
		---
		# and so are the renewals of nodes' own certificates
		apiVersion: rbac.authorization.k8s.io/v1
		kind: ClusterRoleBinding
		metadata: {name: "kubeadm:node-autoapprove-certificate-rotation"}
		roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"}
		subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:nodes"}]
		---
		# kubeadm lets a joining node look up whether its Node already exists
		apiVersion: rbac.authorization.k8s.io/v1
		kind: ClusterRole
		metadata: {name: "kubeadm:get-nodes"}
		rules: [{apiGroups: [""], resources: [nodes], verbs: [get]}]
		---
		apiVersion: rbac.authorization.k8s.io/v1
		kind: ClusterRoleBinding
		metadata: {name: "kubeadm:get-nodes"}
		roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "kubeadm:get-nodes"}
		subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:bootstrappers:kubeadm:default-node-token"}]
		---
		# kubeadm-style discovery: cluster-info, signed by the bootstrap signer
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: cluster-info, namespace: kube-public}
		data:
		  kubeconfig: |
		    apiVersion: v1
		    kind: Config
		    clusters:
		    - name: ""
		      cluster:
		        server: $SERVER
		        certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
		    contexts: []
		    users: []
		---
		apiVersion: rbac.authorization.k8s.io/v1
		kind: Role
		metadata: {name: "kubeadm:bootstrap-signer-clusterinfo", namespace: kube-public}
		rules: [{apiGroups: [""], resources: [configmaps], resourceNames: [cluster-info], verbs: [get]}]
		---
		apiVersion: rbac.authorization.k8s.io/v1
		kind: RoleBinding
		metadata: {name: "kubeadm:bootstrap-signer-clusterinfo", namespace: kube-public}
		roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: "kubeadm:bootstrap-signer-clusterinfo"}
		subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:anonymous"}]
	YAML
	# A bootstrap kubeconfig as a kubelet would be given one (for tests that join by hand).
	(
		umask 077
		cat >"$E2E_STATE/bootstrap.kubeconfig" <<-KC
			apiVersion: v1
			kind: Config
			clusters:
			- name: e2e
			  cluster:
			    server: $SERVER
			    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
			users:
			- name: kubelet-bootstrap
			  user:
			    token: $BOOTSTRAP_TOKEN_ID.$BOOTSTRAP_TOKEN_SECRET
			contexts:
			- name: e2e
			  context: {cluster: e2e, user: kubelet-bootstrap}
			current-context: e2e
		KC
		echo "$BOOTSTRAP_TOKEN_ID.$BOOTSTRAP_TOKEN_SECRET" >"$E2E_STATE/bootstrap-token"
	)
}

# cluster_cni: the cluster's network plugin, as TKE deploys cilium: a
# DaemonSet whose pod (host network, tolerating everything) writes the node's
# CNI configuration. Here the configuration is loopback-only, which is enough
# for Ready, and the image is the pause image of the artifact set (busybox),
# which add2tkectl imports, so no registry is needed. A node therefore turns
# Ready only once the cluster has run a pod on it, as with the real thing.
cluster_cni() {
	log "deploying the cluster CNI stand-in (DaemonSet kube-system/e2e-cni)"
	kubectl_admin apply -f - >/dev/null <<-'YAML'
		apiVersion: apps/v1
		kind: DaemonSet
		metadata:
		  name: e2e-cni
		  namespace: kube-system
		  labels: {app.kubernetes.io/name: e2e-cni}
		spec:
		  selector:
		    matchLabels: {app.kubernetes.io/name: e2e-cni}
		  template:
		    metadata:
		      labels: {app.kubernetes.io/name: e2e-cni}
		    spec:
		      hostNetwork: true
		      priorityClassName: system-node-critical
		      tolerations: [{operator: Exists}]
		      automountServiceAccountToken: false
		      enableServiceLinks: false
		      terminationGracePeriodSeconds: 1
		      containers:
		      - name: cni
		        image: registry.local/pause:3.10
		        imagePullPolicy: Never
		        command:
		        - /bin/busybox
		        - sh
		        - -c
		        - |
		          f=/host/etc/cni/net.d/10-e2e-loopback.conflist
		          /bin/busybox printf '{"cniVersion": "1.0.0", "name": "e2e-loopback", "plugins": [{"type": "loopback"}]}\n' > "$f.tmp"
		          /bin/busybox mv "$f.tmp" "$f"
		          exec /bin/busybox sleep inf
		        resources:
		          requests: {cpu: 1m, memory: 4Mi}
		        volumeMounts:
		        - {name: cni-conf, mountPath: /host/etc/cni/net.d}
		      volumes:
		      - name: cni-conf
		        hostPath: {path: /etc/cni/net.d, type: DirectoryOrCreate}
	YAML
}

up() {
	local b start=$SECONDS
	for b in "$ETCD_BIN/etcd" "$K8S_BIN/kube-apiserver" "$K8S_BIN/kube-controller-manager" "$K8S_BIN/kube-scheduler" "$K8S_BIN/kubectl"; do
		[ -x "$b" ] || die "$b missing: run scripts/e2e/build-k8s.sh"
	done
	"$(dirname "$0")/net.sh" up
	mkdir -p "$CP" "$LOGS"
	pki

	start etcd "$ETCD_BIN/etcd" --name e2e --data-dir "$CP/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster e2e=http://127.0.0.1:2380 --unsafe-no-fsync --log-level warn
	wait_for "etcd /health" 30 in_driver curl -fsS --max-time 2 http://127.0.0.1:2379/health ||
		die "etcd did not become healthy; see $LOGS/etcd.log"

	start kube-apiserver "$K8S_BIN/kube-apiserver" \
		--etcd-servers=http://127.0.0.1:2379 \
		--bind-address="$DRIVER_IP" --advertise-address="$DRIVER_IP" --secure-port="$APISERVER_PORT" \
		--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
		--client-ca-file="$PKI/ca.crt" \
		--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
		--kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
		--kubelet-preferred-address-types=InternalIP,Hostname \
		--enable-bootstrap-token-auth=true \
		--authorization-mode=Node,RBAC \
		--enable-admission-plugins=NodeRestriction \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$PKI/sa.pub" \
		--service-account-signing-key-file="$PKI/sa.key" \
		--service-cluster-ip-range=10.96.0.0/16 \
		--endpoint-reconciler-type=none \
		--allow-privileged=true \
		--profiling=false \
		--v=1
	wait_for "kube-apiserver $SERVER/readyz" 90 https_ok "$SERVER/readyz" ||
		die "kube-apiserver did not become ready; see $LOGS/kube-apiserver.log"

	start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
		--kubeconfig="$CP/controller-manager.kubeconfig" \
		--authentication-kubeconfig="$CP/controller-manager.kubeconfig" \
		--authorization-kubeconfig="$CP/controller-manager.kubeconfig" \
		--bind-address=127.0.0.1 --secure-port=10257 \
		--controllers='*,bootstrapsigner,tokencleaner' \
		--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
		--root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
		--use-service-account-credentials=true \
		--leader-elect=false \
		--profiling=false \
		--v=1
	wait_for "kube-controller-manager /healthz" 60 in_driver curl -fsSk --max-time 2 https://127.0.0.1:10257/healthz ||
		die "kube-controller-manager did not become healthy; see $LOGS/kube-controller-manager.log"

	start kube-scheduler "$K8S_BIN/kube-scheduler" \
		--kubeconfig="$CP/scheduler.kubeconfig" \
		--authentication-kubeconfig="$CP/scheduler.kubeconfig" \
		--authorization-kubeconfig="$CP/scheduler.kubeconfig" \
		--bind-address=127.0.0.1 --secure-port=10259 \
		--leader-elect=false \
		--profiling=false \
		--v=1
	wait_for "kube-scheduler /healthz" 60 in_driver curl -fsSk --max-time 2 https://127.0.0.1:10259/healthz ||
		die "kube-scheduler did not become healthy; see $LOGS/kube-scheduler.log"

	bootstrap_objects
	cluster_cni
	log "control plane up in $((SECONDS - start))s: $SERVER (KUBECONFIG=$ADMIN_KUBECONFIG)"
}

down() {
	local c pid pids=()
	# TERM them all at once (setsid made each the leader of its process group),
	# then wait for each, bounded.
	for c in kube-scheduler kube-controller-manager kube-apiserver etcd; do
		if running "$c"; then
			pid=$(cat "$CP/$c.pid")
			log "stopping $c"
			kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
		rm -f "$CP/$c.pid"
	done
	for pid in "${pids[@]}"; do
		wait_for "process $pid to exit" 15 bash -c "! kill -0 $pid" || kill -KILL -- "-$pid" 2>/dev/null || true
	done
	rm -rf "$CP" "$ADMIN_KUBECONFIG" "$E2E_STATE/ca.crt" "$E2E_STATE/bootstrap.kubeconfig" "$E2E_STATE/bootstrap-token"
}

case ${1:-} in
up) up ;;
down) down ;;
*) die "usage: $0 up|down" ;;
esac
