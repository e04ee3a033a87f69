#!/usr/bin/env bash
# Build the artifact set of $K8S_VERSION into $ARTIFACTS, packaged as releases are:
#   kubelet                                 the kubelet binary from build-k8s.sh
#   kubectl                                 kubectl from build-k8s.sh (for the user script)
#   containerd-<v>-linux-amd64.tar.gz       bin/containerd, bin/containerd-shim-runc-v2, bin/ctr, ...
#   runc.amd64                              the runc binary
#   cni-plugins-linux-amd64-v<v>.tgz        plugin binaries at the top level
#   pause-3.10.oci.tar                      OCI image layout (+ docker-archive manifest.json)
#   docker-<v>.tgz                          docker/dockerd, docker/docker, docker/containerd, ... as
#                                           docker's static archive lays them out
#   cri-dockerd-<v>.amd64                   the cri-dockerd binary from build-cri-dockerd.sh
#   payload.json                            the unsigned manifest payload, relative URLs
# containerd, runc, the CNI plugins and docker are Debian's (apt-get download + dpkg -x);
# the pause image is busybox-static's sleep, built without docker. Tarballs are
# reproducible (sorted, owner 0, mtime 0, gzip -n), so checksums stay stable.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

PAUSE_REF=registry.local/pause:3.10
DEBS=$E2E_CACHE/debs

# containerd 2 for the upgrade test: outside the set (its manifest stays as
# it is), in a second manifest artifacts.sh publishes.
"$(dirname "$0")/build-containerd2.sh"

# A set from before docker (or kubectl) joined it lacks that artifact:
# rebuilt (the other artifacts come out byte-identical).
if [ -s "$ARTIFACTS/payload.json" ] && [ "$ARTIFACTS/payload.json" -nt "$K8S_BIN/kubelet" ] &&
	jq -e '[.artifacts[].name] | index("docker") and index("cri-dockerd") and index("kubectl")' "$ARTIFACTS/payload.json" >/dev/null; then
	log "artifact set present in $ARTIFACTS"
	exit 0
fi
[ -x "$K8S_BIN/kubelet" ] || die "$K8S_BIN/kubelet missing: run scripts/e2e/build-k8s.sh"
"$(dirname "$0")/build-cri-dockerd.sh"
start=$SECONDS
log "building the artifact set for $K8S_VERSION in $ARTIFACTS"

# Debian packages, downloaded once.
mkdir -p "$DEBS"
fetch_deb() {
	local pkg=$1
	ls "$DEBS/${pkg}_"*.deb >/dev/null 2>&1 && return 0
	log "downloading Debian package $pkg"
	(cd "$DEBS" && apt-get download -qq "$pkg" 2>/dev/null) ||
		{ apt-get update -qq >&2 && (cd "$DEBS" && apt-get download -qq "$pkg" 2>/dev/null); } ||
		die "apt-get download $pkg failed"
}
DEB_PKGS="containerd runc containernetworking-plugins busybox-static docker.io tini"
for p in $DEB_PKGS; do fetch_deb "$p"; done
deb_of() { ls "$DEBS/${1}_"*.deb | head -1; }
# upstream_version PKG: 1.6.20~ds1-1+deb12u3 -> 1.6.20
upstream_version() { dpkg-deb -f "$(deb_of "$1")" Version | sed -e 's/^[0-9]*://' -e 's/[~+-].*//'; }

work=$(mktemp -d "$E2E_CACHE/artifacts-work.XXXXXX")
trap 'rm -rf "$work"' EXIT
out=$work/out
mkdir -p "$out"
for p in $DEB_PKGS; do
	mkdir -p "$work/$p"
	dpkg -x "$(deb_of "$p")" "$work/$p"
done

TAR=(tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu)

CONTAINERD_V=$(upstream_version containerd)
RUNC_V=$(upstream_version runc)
CNI_V=$(upstream_version containernetworking-plugins)
DOCKER_V=$(upstream_version docker.io)
CRI_DOCKERD_V=${CRI_DOCKERD_VERSION#v}

cp "$K8S_BIN/kubelet" "$out/kubelet"
cp "$K8S_BIN/kubectl" "$out/kubectl"

mkdir -p "$work/ctd/bin"
cp "$work/containerd/usr/bin/"* "$work/ctd/bin/"
"${TAR[@]}" -C "$work/ctd" -cf - bin | gzip -n >"$out/containerd-$CONTAINERD_V-linux-amd64.tar.gz"

cp "$work/runc/usr/sbin/runc" "$out/runc.amd64"

"${TAR[@]}" -C "$work/containernetworking-plugins/usr/lib/cni" -cf - . | gzip -n >"$out/cni-plugins-linux-amd64-v$CNI_V.tgz"

# docker: the members pkg/runtime/docker installs (DockerBinaries), under docker/
# as in docker's static archive, with Debian's containerd and runc (dockerd
# starts its own containerd) and tini-static as docker-init (Debian's
# docker-init is a link to it). dockerd and docker-proxy are dynamically
# linked against libraries the bookworm rootfs has (libsystemd, libdevmapper).
mkdir -p "$work/dk/docker"
cp "$work/docker.io/usr/sbin/dockerd" "$work/docker.io/usr/bin/docker" "$work/docker.io/usr/sbin/docker-proxy" "$work/dk/docker/"
cp "$work/tini/usr/bin/tini-static" "$work/dk/docker/docker-init"
cp "$work/containerd/usr/bin/containerd" "$work/containerd/usr/bin/containerd-shim-runc-v2" "$work/containerd/usr/bin/ctr" "$work/dk/docker/"
cp "$work/runc/usr/sbin/runc" "$work/dk/docker/runc"
"${TAR[@]}" -C "$work/dk" -cf - docker | gzip -n >"$out/docker-$DOCKER_V.tgz"

cp "$CRI_DOCKERD_BIN/cri-dockerd" "$out/cri-dockerd-$CRI_DOCKERD_V.amd64"

# --- the pause image: one layer with busybox as /bin/sleep ---
img=$work/img
mkdir -p "$img/rootfs/bin" "$img/oci/blobs/sha256"
cp "$work/busybox-static/bin/busybox" "$img/rootfs/bin/busybox"
ln -s busybox "$img/rootfs/bin/sleep"
"${TAR[@]}" -C "$img/rootfs" -cf "$img/layer.tar" bin
gzip -n -c "$img/layer.tar" >"$img/layer.tar.gz"
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
blob() { # blob FILE -> digest; stores it under blobs/sha256
	local d
	d=$(sha "$1")
	cp "$1" "$img/oci/blobs/sha256/$d"
	echo "$d"
}
diff_id=$(sha "$img/layer.tar")
layer=$(blob "$img/layer.tar.gz")
layer_size=$(size "$img/layer.tar.gz")
jq -cn --arg diff "sha256:$diff_id" '{
	architecture: "amd64", os: "linux", created: "1970-01-01T00:00:00Z",
	config: {Entrypoint: ["/bin/sleep", "inf"], WorkingDir: "/", Labels: {"io.x-k8s.pause": "add2tkectl-e2e"}},
	rootfs: {type: "layers", diff_ids: [$diff]},
	history: [{created: "1970-01-01T00:00:00Z", created_by: "add2tkectl e2e: busybox-static as /bin/sleep"}]
}' >"$img/config.json"
config=$(blob "$img/config.json")
jq -cn --arg c "sha256:$config" --argjson cs "$(size "$img/config.json")" \
	--arg l "sha256:$layer" --argjson ls "$layer_size" '{
	schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
	layers: [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $l, size: $ls}]
}' >"$img/manifest.json"
manifest=$(blob "$img/manifest.json")
jq -cn --arg m "sha256:$manifest" --argjson ms "$(size "$img/manifest.json")" --arg ref "$PAUSE_REF" '{
	schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
	manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
		platform: {architecture: "amd64", os: "linux"},
		annotations: {"io.containerd.image.name": $ref, "org.opencontainers.image.ref.name": ($ref | split(":") | last)}}]
}' >"$img/oci/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' >"$img/oci/oci-layout"
# docker-archive view of the same blobs, so `docker load` takes the tarball too
jq -cn --arg c "blobs/sha256/$config" --arg l "blobs/sha256/$layer" --arg ref "$PAUSE_REF" \
	'[{Config: $c, RepoTags: [$ref], Layers: [$l]}]' >"$img/oci/manifest.json"
"${TAR[@]}" -C "$img/oci" -cf "$out/pause-3.10.oci.tar" oci-layout index.json manifest.json blobs

# --- the unsigned manifest payload (DESIGN.md section 2), relative URLs ---
entry() { # entry NAME VERSION KIND FILE
	jq -cn --arg name "$1" --arg version "$2" --arg kind "$3" --arg url "$(basename "$4")" \
		--argjson size "$(size "$4")" --arg sha "$(sha "$4")" \
		'{name: $name, version: $version, os: "linux", arch: "amd64", kind: $kind, urls: [$url], size: $size, sha256: $sha}'
}
{
	entry kubelet "$K8S_VERSION" binary "$out/kubelet"
	entry kubectl "$K8S_VERSION" binary "$out/kubectl"
	entry containerd "$CONTAINERD_V" tar.gz "$out/containerd-$CONTAINERD_V-linux-amd64.tar.gz"
	entry runc "$RUNC_V" binary "$out/runc.amd64"
	entry cni-plugins "$CNI_V" tar.gz "$out/cni-plugins-linux-amd64-v$CNI_V.tgz"
	entry image/pause 3.10 image "$out/pause-3.10.oci.tar"
	entry docker "$DOCKER_V" tar.gz "$out/docker-$DOCKER_V.tgz"
	entry cri-dockerd "$CRI_DOCKERD_V" binary "$out/cri-dockerd-$CRI_DOCKERD_V.amd64"
} | jq -s '{schemaVersion: 1, artifacts: .}' >"$out/payload.json"

rm -rf "$ARTIFACTS"
mkdir -p "$(dirname "$ARTIFACTS")"
mv "$out" "$ARTIFACTS"
log "artifact set built in $((SECONDS - start))s: $(cd "$ARTIFACTS" && ls | paste -sd' ')"
