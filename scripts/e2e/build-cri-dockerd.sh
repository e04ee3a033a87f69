#!/usr/bin/env bash
# Build cri-dockerd $CRI_DOCKERD_VERSION from the Go module proxy (the scratch
# module test/e2e/k8sbin/cri-dockerd, kept out of the project's go.mod) into
# $CRI_DOCKERD_BIN. A second run with the binary present takes well under a second.
#
# One patch, on a copy of the module: cri-dockerd 0.4 refuses a docker API older than 1.42 (docker 23)
# at start-up, and the docker of the artifact set is Debian's 20.10 (API 1.41).
# The check is the only thing tied to 1.42: the client negotiates the API
# version with the daemon. Real nodes use docker's own 23+ builds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ -x "$CRI_DOCKERD_BIN/cri-dockerd" ] && {
	log "cri-dockerd $CRI_DOCKERD_VERSION present in $CRI_DOCKERD_BIN"
	exit 0
}
mod=$E2E_ROOT/test/e2e/k8sbin/cri-dockerd
pkg=github.com/Mirantis/cri-dockerd
grep -q "$pkg $CRI_DOCKERD_VERSION\$" "$mod/go.mod" ||
	die "test/e2e/k8sbin/cri-dockerd pins another cri-dockerd than $CRI_DOCKERD_VERSION"
start=$SECONDS
dir=$E2E_CACHE/cri-dockerd-$CRI_DOCKERD_VERSION
tmp=$dir/bin.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
src=$(cd "$mod" && go mod download -json "$pkg@$CRI_DOCKERD_VERSION" | jq -r .Dir)
[ -f "$src/libdocker/client.go" ] || die "no libdocker/client.go in $src"
# The patched copy stands in for the module through a generated modfile (the
# committed go.mod and go.sum plus one replace); overlays may not touch the
# module cache.
patched=$dir/src
rm -rf "$patched"
cp -r "$src" "$patched"
chmod -R u+w "$patched"
sed -i 's/MinimumDockerAPIVersion = "1\.42\.0"/MinimumDockerAPIVersion = "1.41.0"/' "$patched/libdocker/client.go"
grep -q 'MinimumDockerAPIVersion = "1.41.0"' "$patched/libdocker/client.go" ||
	die "cri-dockerd $CRI_DOCKERD_VERSION: the docker API check moved; update $0"
cp "$mod/go.mod" "$dir/build.mod"
cp "$mod/go.sum" "$dir/build.sum"
echo "replace $pkg => $patched" >>"$dir/build.mod"
log "building cri-dockerd $CRI_DOCKERD_VERSION from the Go module proxy (about 3 min cold)"
(cd "$mod" && CGO_ENABLED=0 go build -trimpath -modfile "$dir/build.mod" \
	-ldflags="-s -w -X $pkg/cmd/version.Version=${CRI_DOCKERD_VERSION#v} -X $pkg/cmd/version.GitCommit=add2tkectl-e2e" \
	-o "$tmp/cri-dockerd" "$pkg")
rm -rf "$patched" "$dir/build.mod" "$dir/build.sum"
rm -rf "$CRI_DOCKERD_BIN"
mv "$tmp" "$CRI_DOCKERD_BIN"
log "built cri-dockerd in $((SECONDS - start))s: $("$CRI_DOCKERD_BIN/cri-dockerd" --version 2>&1)"
