#!/usr/bin/env bash
# pool.sh: write the sample node pool configuration of the environment to
# $E2E_STATE/pool.yaml and bundle add2tkectl with it into
# $E2E_STATE/bundle/add2tkectl-<cls>-<np>, as the console would.
#
# The pool: containerd (Debian's, from the artifact set), labels, a taint,
# cordon on, and a user script of just `kubectl uncordon "$NODE_NAME"`, as
# the source document tells operators to write: install puts kubectl (an
# artifact of the set) first on the script's PATH and sets KUBECONFIG to the
# node's own credentials (a kubelet may patch its own spec.unschedulable).
#
#   E2E_POOL_RUNTIME   containerd | docker   (containerd)
#   E2E_POOL_DIR       where pool.yaml and bundle/ go ($E2E_STATE)
#   E2E_POOL_CORDON    true | false          (true)
#   E2E_POOL_KUBERNETES_VERSION              (the environment's, e.g. 1.35.4)
#   E2E_POOL_RUNTIME_VERSION                 (the artifact set's)
#   E2E_POOL_MANIFEST_URL_FILE               ($E2E_STATE/manifest-url; e.g.
#                      manifest-url-containerd2 for the runtime upgrade)
#   E2E_POOL_USER_SCRIPT                     (kubectl uncordon "$NODE_NAME"; the
#                      version matrix's sets have no kubectl)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root

CLUSTER_ID=${E2E_CLUSTER_ID:-cls-e2e0demo}
POOL_ID=${E2E_POOL_ID:-np-e2e0pool}
RUNTIME=${E2E_POOL_RUNTIME:-containerd}
POOL_DIR=${E2E_POOL_DIR:-$E2E_STATE}
POOL=$POOL_DIR/pool.yaml
CORDON=${E2E_POOL_CORDON:-true}
KUBE_VERSION=${E2E_POOL_KUBERNETES_VERSION:-${K8S_VERSION#v}}
MANIFEST_URL_FILE=${E2E_POOL_MANIFEST_URL_FILE:-$E2E_STATE/manifest-url}
BIN=$E2E_STATE/bin
# shellcheck disable=SC2016 # expanded by the user script, not here
USER_SCRIPT=${E2E_POOL_USER_SCRIPT:-'kubectl uncordon "$NODE_NAME"'}

for f in "$E2E_STATE/ca.crt" "$E2E_STATE/bootstrap-token" "$E2E_STATE/manifest-url" "$E2E_STATE/keys/release.pub" "$BIN/add2tkectl"; do
	[ -s "$f" ] || die "$f missing: bring the environment up first (scripts/e2e/up)"
done
runtime_version=${E2E_POOL_RUNTIME_VERSION:-$(jq -r --arg n "$RUNTIME" '.artifacts[] | select(.name == $n) | .version' "$E2E_STATE/payload.json" | head -1)}
[ -n "$runtime_version" ] || die "the artifact set has no $RUNTIME"
[ -s "$MANIFEST_URL_FILE" ] || die "no manifest URL in $MANIFEST_URL_FILE (scripts/e2e/artifacts.sh publish)"
case $RUNTIME in containerd) data_dir=/var/lib/containerd ;; docker) data_dir=/var/lib/docker ;; esac

indent() { sed 's/^/        /'; }
mkdir -p "$POOL_DIR"
(
	umask 077
	cat >"$POOL.tmp" <<-YAML
		apiVersion: add2tke.tke.cloud.tencent.com/v1alpha1
		kind: NodePoolJoin
		cluster:
		  id: $CLUSTER_ID
		  region: ap-e2e
		  kubernetesVersion: "$KUBE_VERSION"
		  apiServer:
		    endpoint: https://$DRIVER_IP:$APISERVER_PORT
		    caData: $(base64 -w0 <"$E2E_STATE/ca.crt")
		  bootstrapToken: $(cat "$E2E_STATE/bootstrap-token")
		  network:
		    plugin: cilium-vxlan
		    podCIDR: 172.20.0.0/16
		nodePool:
		  id: $POOL_ID
		  runtime:
		    kind: $RUNTIME
		    version: "$runtime_version"
		    dataDir: $data_dir
		  cordon: $CORDON
		  labels:
		    tke.cloud.tencent.com/location: idc-e2e-01
		    example.com/rack: r42
		  taints:
		    - {key: example.com/dedicated, value: idc, effect: PreferNoSchedule}
		  userScript: $(jq -Rn --arg s "$USER_SCRIPT" '$s')
		artifacts:
		  manifestURL: "$(cat "$MANIFEST_URL_FILE")"
		  publicKey: |
		$(indent <"$E2E_STATE/keys/release.pub")
	YAML
	mv "$POOL.tmp" "$POOL"
)
rm -rf "$POOL_DIR/bundle"
mkdir -p "$POOL_DIR/bundle"
"$BIN/add2tkectl" bundle --config "$POOL" --out "$POOL_DIR/bundle" >/dev/null ||
	die "add2tkectl bundle failed for $POOL"
[ -x "$POOL_DIR/bundle/add2tkectl-$CLUSTER_ID-$POOL_ID" ] || die "add2tkectl bundle wrote no $POOL_DIR/bundle/add2tkectl-$CLUSTER_ID-$POOL_ID"
log "bundled $POOL_DIR/bundle/add2tkectl-$CLUSTER_ID-$POOL_ID"
