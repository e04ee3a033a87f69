#!/usr/bin/env bash
# Build the static runc and CNI plugins of the "portable" artifact set, for
# hosts whose libc is older than the Debian 12 builds of the main set need
# (Debian 11: glibc 2.31; Debian 12's containerd, runc and CNI plugins need
# 2.34). With containerd $CONTAINERD2_VERSION (build-containerd2.sh, static),
# artifacts.sh publish-portable makes manifest-portable.json of them. Into
# $E2E_CACHE/portable/:
#   runc.amd64                          runc $RUNC_STATIC_VERSION, static (cgo for nsenter and
#                                       seccomp: glibc and libseccomp linked in)
#   cni-plugins-linux-amd64-v<v>.tgz    loopback, bridge, host-local, portmap (CGO_ENABLED=0)
#   entries.json                        their manifest entries (relative URLs)
# A second run with the set present takes well under a second.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

RUNC_STATIC_VERSION=v1.3.7
CNI_STATIC_VERSION=v1.9.1
DIR=$E2E_CACHE/portable
[ -s "$DIR/entries.json" ] && {
	log "portable runc and CNI plugins present in $DIR"
	exit 0
}
# runc's nsenter is C, and its seccomp support links libseccomp: the
# kubelet gives every container a seccomp profile.
need_root
if ! dpkg -s gcc libc6-dev libseccomp-dev pkg-config >/dev/null 2>&1; then
	log "installing Debian packages: gcc libc6-dev libseccomp-dev pkg-config"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends gcc libc6-dev libseccomp-dev pkg-config >&2 ||
		{ apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends gcc libc6-dev libseccomp-dev pkg-config >&2; }
fi
start=$SECONDS
tmp=$DIR/tmp
rm -rf "$tmp"
mkdir -p "$tmp/mod" "$tmp/cni"
log "building static runc $RUNC_STATIC_VERSION and CNI plugins $CNI_STATIC_VERSION from the Go module proxy (about 2 min cold)"
cat >"$tmp/mod/tools.go" <<'GO'
//go:build tools

package portable

import (
	_ "github.com/containernetworking/plugins/plugins/ipam/host-local"
	_ "github.com/containernetworking/plugins/plugins/main/bridge"
	_ "github.com/containernetworking/plugins/plugins/main/loopback"
	_ "github.com/containernetworking/plugins/plugins/meta/portmap"
	_ "github.com/opencontainers/runc"
)
GO
printf 'module portable\n\ngo 1.26.8\n\nrequire (\n\tgithub.com/opencontainers/runc %s\n\tgithub.com/containernetworking/plugins %s\n)\n' \
	"$RUNC_STATIC_VERSION" "$CNI_STATIC_VERSION" >"$tmp/mod/go.mod"
(cd "$tmp/mod" && go mod tidy >&2)
(cd "$tmp/mod" && CGO_ENABLED=1 go build -trimpath -tags "seccomp netgo osusergo" \
	-ldflags="-s -w -extldflags=-static -X main.version=${RUNC_STATIC_VERSION#v}" \
	-o "$tmp/runc.amd64" github.com/opencontainers/runc) >&2
(cd "$tmp/mod" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$tmp/cni/" \
	github.com/containernetworking/plugins/plugins/ipam/host-local \
	github.com/containernetworking/plugins/plugins/main/bridge \
	github.com/containernetworking/plugins/plugins/main/loopback \
	github.com/containernetworking/plugins/plugins/meta/portmap) >&2
cni=cni-plugins-linux-amd64-$CNI_STATIC_VERSION.tgz
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu -C "$tmp/cni" -cf - . | gzip -n >"$tmp/$cni"
entry() { # entry NAME VERSION KIND FILE
	jq -cn --arg name "$1" --arg version "$2" --arg kind "$3" --arg url "$(basename "$4")" \
		--argjson size "$(stat -c %s "$4")" --arg sha "$(sha256sum "$4" | cut -d' ' -f1)" \
		'{name: $name, version: $version, os: "linux", arch: "amd64", kind: $kind, urls: [$url], size: $size, sha256: $sha}'
}
{
	entry runc "${RUNC_STATIC_VERSION#v}" binary "$tmp/runc.amd64"
	entry cni-plugins "${CNI_STATIC_VERSION#v}" tar.gz "$tmp/$cni"
} | jq -s . >"$tmp/entries.json"
rm -rf "$tmp/mod" "$tmp/cni"
rm -rf "${DIR:?}"/*.amd64 "$DIR"/*.tgz "$DIR/entries.json"
mv "$tmp"/* "$DIR/"
rmdir "$tmp"
log "built the portable runc and CNI plugins in $((SECONDS - start))s: $(file -b "$DIR/runc.amd64" | cut -d, -f1-4)"
