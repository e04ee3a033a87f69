#!/usr/bin/env bash
# Build kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kubectl of
# $K8S_VERSION, and etcd $ETCD_VERSION, from the Go module proxy into a
# version-keyed cache outside the clone. A second run with the binaries present
# takes well under a second.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

K8S_CMDS="kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl"

have_all() {
	local d=$1
	shift
	local b
	for b in "$@"; do [ -x "$d/$b" ] || return 1; done
}

# k8s_module_dir: the tools module for $K8S_VERSION. The committed one pins
# v1.35.4; another version gets a scratch copy in the cache with its replaces
# rewritten (needs the module proxy once).
k8s_module_dir() {
	local committed=$E2E_ROOT/test/e2e/k8sbin
	if grep -q "k8s.io/kubernetes $K8S_VERSION\$" "$committed/go.mod"; then
		echo "$committed"
		return
	fi
	local scratch=$E2E_CACHE/k8s-$K8S_VERSION/module
	local staging=v0.${K8S_VERSION#v1.}
	if [ ! -s "$scratch/go.sum" ]; then
		log "preparing a tools module for k8s.io/kubernetes $K8S_VERSION (staging $staging) in $scratch"
		rm -rf "$scratch"
		mkdir -p "$scratch"
		cp "$committed/tools.go" "$scratch/"
		local modfile
		modfile=$(cd "$scratch" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
		{
			echo 'module k8sbin'
			echo 'go 1.26.8'
			echo "require k8s.io/kubernetes $K8S_VERSION"
			echo 'replace ('
			grep -E '=> ./staging' "$modfile" | awk -v v="$staging" '{print "\t"$1" => "$1" "v}'
			echo ')'
		} >"$scratch/go.mod"
		(cd "$scratch" && go mod tidy >&2)
	fi
	echo "$scratch"
}

build_k8s() {
	if have_all "$K8S_BIN" $K8S_CMDS; then
		log "kubernetes $K8S_VERSION binaries present in $K8S_BIN"
		return
	fi
	local mod tmp start=$SECONDS
	mod=$(k8s_module_dir)
	tmp=$E2E_CACHE/k8s-$K8S_VERSION/bin.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	log "building $K8S_CMDS $K8S_VERSION from the Go module proxy (about 10 min cold on 2 cores)"
	local pkgs=() c
	for c in $K8S_CMDS; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
	(cd "$mod" && CGO_ENABLED=0 go build -trimpath \
		-ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION" \
		-o "$tmp/" "${pkgs[@]}")
	rm -rf "$K8S_BIN"
	mv "$tmp" "$K8S_BIN"
	log "built kubernetes $K8S_VERSION in $((SECONDS - start))s: $("$K8S_BIN/kubelet" --version)"
}

build_etcd() {
	if have_all "$ETCD_BIN" etcd; then
		log "etcd $ETCD_VERSION present in $ETCD_BIN"
		return
	fi
	local mod=$E2E_ROOT/test/e2e/k8sbin/etcd tmp start=$SECONDS
	grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION\$" "$mod/go.mod" ||
		die "test/e2e/k8sbin/etcd pins another etcd than $ETCD_VERSION"
	tmp=$E2E_CACHE/etcd-$ETCD_VERSION/bin.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	log "building etcd $ETCD_VERSION from the Go module proxy (about 1 min cold)"
	(cd "$mod" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
	rm -rf "$ETCD_BIN"
	mv "$tmp" "$ETCD_BIN"
	log "built etcd in $((SECONDS - start))s"
}

mkdir -p "$E2E_CACHE"
case ${1:-all} in
etcd) build_etcd ;;
k8s) build_k8s ;;
all) build_etcd; build_k8s ;;
module) k8s_module_dir ;;
*) die "usage: $0 [all|etcd|k8s|module]" ;;
esac
