#!/usr/bin/env bash
# Build containerd $CONTAINERD2_VERSION (containerd, containerd-shim-runc-v2,
# ctr) from the Go module proxy (the scratch module test/e2e/k8sbin/containerd2,
# kept out of the project's go.mod) and package it as containerd's release
# tarball (bin/...) for the runtime upgrade test: $CONTAINERD2_DIR/
#   bin/                                   the binaries
#   containerd-<v>-linux-amd64.tar.gz      bin/containerd, bin/containerd-shim-runc-v2, bin/ctr
#   entry.json                             its manifest entry (name containerd, relative URL)
# Static (CGO_ENABLED=0: no btrfs snapshotter, which the hosts do not use).
# A second run with the set present takes well under a second.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

v=${CONTAINERD2_VERSION#v}
tarball=$CONTAINERD2_DIR/containerd-$v-linux-amd64.tar.gz
[ -s "$CONTAINERD2_DIR/entry.json" ] && [ -s "$tarball" ] && {
	log "containerd $CONTAINERD2_VERSION present in $CONTAINERD2_DIR"
	exit 0
}
mod=$E2E_ROOT/test/e2e/k8sbin/containerd2
pkg=github.com/containerd/containerd/v2
grep -q "$pkg $CONTAINERD2_VERSION\$" "$mod/go.mod" ||
	die "test/e2e/k8sbin/containerd2 pins another containerd than $CONTAINERD2_VERSION"
start=$SECONDS
tmp=$CONTAINERD2_DIR/tmp
rm -rf "$tmp"
mkdir -p "$tmp/bin"
log "building containerd $CONTAINERD2_VERSION from the Go module proxy (about 3 min cold)"
(cd "$mod" && CGO_ENABLED=0 go build -trimpath \
	-ldflags="-s -w -X $pkg/version.Version=$CONTAINERD2_VERSION -X $pkg/version.Revision=add2tkectl-e2e" \
	-o "$tmp/bin/" "$pkg/cmd/containerd" "$pkg/cmd/containerd-shim-runc-v2" "$pkg/cmd/ctr")
# Reproducible, as build-artifacts.sh makes its tarballs.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu -C "$tmp" -cf - bin |
	gzip -n >"$tmp/containerd-$v-linux-amd64.tar.gz"
jq -cn --arg v "$v" --arg url "containerd-$v-linux-amd64.tar.gz" \
	--argjson size "$(stat -c %s "$tmp/containerd-$v-linux-amd64.tar.gz")" \
	--arg sha "$(sha256sum "$tmp/containerd-$v-linux-amd64.tar.gz" | cut -d' ' -f1)" \
	'{name: "containerd", version: $v, os: "linux", arch: "amd64", kind: "tar.gz", urls: [$url], size: $size, sha256: $sha}' \
	>"$tmp/entry.json"
rm -rf "${CONTAINERD2_DIR:?}/bin" "$tarball" "$CONTAINERD2_DIR/entry.json"
mv "$tmp/bin" "$tmp/containerd-$v-linux-amd64.tar.gz" "$CONTAINERD2_DIR/"
mv "$tmp/entry.json" "$CONTAINERD2_DIR/entry.json"
rm -rf "$tmp"
log "built containerd in $((SECONDS - start))s: $("$CONTAINERD2_DIR/bin/containerd" --version)"
