#!/usr/bin/env bash
# The artifact server of the environment: test/cosserver (COS semantics:
# presigned URLs, Range, ETag, fault injection at /_faults, counters at /_stats)
# serving a bucket at http://$DRIVER_IP:$ARTIFACT_PORT in the driver netns.
#
#   artifacts.sh up        build cosserver + add2tkectl, fill the bucket, start serving, publish
#   artifacts.sh publish   (re)write the signed manifest with fresh presigned URLs
#   artifacts.sh publish-short NAME SECONDS
#                          bucket/NAME.json: the same manifest with every link valid for
#                          SECONDS only, its own URL in $E2E_STATE/manifest-url-NAME
#                          (the test of a rollout that outlives its links)
#   artifacts.sh publish-kubelet VERSION
#                          bucket/manifest-kubelet-VERSION.json: the set with the kubelet of
#                          VERSION (build-kubelet.sh) and without kubectl, its URL in
#                          $E2E_STATE/manifest-url-kubelet-VERSION (the version matrix)
#   artifacts.sh publish-portable
#                          bucket/manifest-portable.json: the set with containerd
#                          $CONTAINERD2_VERSION, runc and the CNI plugins static (build-portable.sh),
#                          for Debian 11 hosts; its URL in $E2E_STATE/manifest-url-portable
#   artifacts.sh down      stop serving, remove the bucket and keys
#
# publish writes, in $E2E_STATE:
#   keys/release.key, keys/release.pub   ed25519 key pair (add2tkectl artifacts keygen)
#   bucket/manifest.json                 DSSE envelope (add2tkectl artifacts sign) of the
#                                        payload with each URL presigned for $E2E_PRESIGN_EXPIRES
#   manifest-url                         the presigned URL of manifest.json (mode 0600)
#   cos-credentials                      COS_SECRET_ID=.. COS_SECRET_KEY=.. of the server
#   bucket/manifest-containerd2.json     the same manifest with containerd $CONTAINERD2_VERSION
#                                        (build-containerd2.sh) in place of containerd 1.x,
#                                        signed with the same key (the runtime upgrade test)
#   manifest-url-containerd2             its presigned URL (mode 0600)
#   bucket/bundle -> $E2E_STATE/bundle   the bundled binary, served unsigned too
#                                        (--anonymous) as a mirror would
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root

BUCKET=$E2E_STATE/bucket
BIN=$E2E_STATE/bin
ART_LOG=$E2E_STATE/logs/cosserver.log
PIDFILE=$E2E_STATE/cosserver.pid
BASE=http://$DRIVER_IP:$ARTIFACT_PORT
E2E_PRESIGN_EXPIRES=${E2E_PRESIGN_EXPIRES:-2h}

# build_tools: add2tkectl and cosserver from the main module, into $BIN
# (outside the clone). Incremental: seconds when nothing changed.
build_tools() {
	mkdir -p "$BIN"
	log "building add2tkectl and cosserver from $E2E_ROOT"
	(cd "$E2E_ROOT" && CGO_ENABLED=0 go build -trimpath -o "$BIN/add2tkectl" ./cmd/add2tkectl) ||
		die "cannot build ./cmd/add2tkectl"
	(cd "$E2E_ROOT" && CGO_ENABLED=0 go build -trimpath -o "$BIN/cosserver" ./test/cosserver) ||
		die "cannot build ./test/cosserver"
}

running() { [ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

credentials() {
	local f=$E2E_STATE/cos-credentials
	if [ ! -s "$f" ]; then
		(
			umask 077
			printf 'COS_SECRET_ID=AKIDe2e%s\nCOS_SECRET_KEY=%s\n' \
				"$(openssl rand -hex 8)" "$(openssl rand -hex 16)" >"$f"
		)
	fi
	# shellcheck disable=SC1090
	. "$f"
}

fill_bucket() {
	[ -s "$ARTIFACTS/payload.json" ] || die "no artifact set in $ARTIFACTS: run scripts/e2e/build-artifacts.sh"
	mkdir -p "$BUCKET"
	local f
	for f in "$ARTIFACTS"/*; do
		[ "$(basename "$f")" = payload.json ] && continue
		# hard links when the cache is on the same filesystem, copies otherwise
		ln -f "$f" "$BUCKET/" 2>/dev/null || cp -f "$f" "$BUCKET/"
	done
	# The bundled binary (pool.sh), as an operator's mirror serves it: a
	# plain URL, no signature (cloud-init's user-data must hold no secret).
	ln -sfn "$E2E_STATE/bundle" "$BUCKET/bundle"
	for f in "$CONTAINERD2_DIR"/*.tar.gz; do
		[ -s "$f" ] || continue
		ln -f "$f" "$BUCKET/" 2>/dev/null || cp -f "$f" "$BUCKET/"
	done
}

serve() {
	if running; then
		return 0
	fi
	mkdir -p "$(dirname "$ART_LOG")"
	log "starting the artifact server (cosserver) at $BASE"
	(
		close_inherited_fds
		exec setsid ip netns exec "$NETNS_DRIVER" "$BIN/cosserver" serve --dir "$BUCKET" \
			--listen "$DRIVER_IP:$ARTIFACT_PORT" --secret-id "$COS_SECRET_ID" --secret-key "$COS_SECRET_KEY" \
			--faults --anonymous
	) </dev/null >>"$ART_LOG" 2>&1 &
	echo $! >"$PIDFILE"
	wait_for "the artifact server at $BASE" 20 curl -fsS --max-time 2 -o /dev/null "$BASE/_stats" ||
		die "the artifact server did not start; see $ART_LOG"
}

presign() { # presign OBJECT -> URL
	"$BIN/cosserver" presign --secret-id "$COS_SECRET_ID" --secret-key "$COS_SECRET_KEY" \
		--base "$BASE" --expires "$E2E_PRESIGN_EXPIRES" "$1"
}

# keygen and sign go through add2tkectl. Until its `artifacts` commands exist,
# openssl produces the same formats (ed25519, DSSE over PAE), loudly.
keygen() {
	local keys=$E2E_STATE/keys
	[ -s "$keys/release.key" ] && return 0
	mkdir -p "$keys"
	chmod 0700 "$keys"
	local err
	if err=$("$BIN/add2tkectl" artifacts keygen --out "$keys/release" 2>&1); then
		log "signing key made with add2tkectl artifacts keygen"
		return 0
	fi
	case $err in
	*"not implemented"*)
		log "WARNING: add2tkectl artifacts keygen is not implemented yet; making the key with openssl"
		openssl genpkey -algorithm ed25519 -out "$keys/release.key"
		openssl pkey -in "$keys/release.key" -pubout -out "$keys/release.pub"
		;;
	*) die "add2tkectl artifacts keygen failed: $err" ;;
	esac
}

sign() { # sign PAYLOAD OUT
	local payload=$1 out=$2 err
	if err=$("$BIN/add2tkectl" artifacts sign --key "$E2E_STATE/keys/release.key" "$payload" --out "$out" 2>&1); then
		return 0
	fi
	case $err in
	*"not implemented"*)
		log "WARNING: add2tkectl artifacts sign is not implemented yet; signing with openssl (DSSE, ed25519)"
		local type=application/vnd.add2tke.manifest+json pae
		pae=$(mktemp)
		printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$(stat -c %s "$payload")" >"$pae"
		cat "$payload" >>"$pae"
		local sig
		sig=$(openssl pkeyutl -sign -rawin -inkey "$E2E_STATE/keys/release.key" -in "$pae" | base64 -w0)
		rm -f "$pae"
		jq -cn --arg t "$type" --arg p "$(base64 -w0 <"$payload")" --arg s "$sig" \
			'{payloadType: $t, payload: $p, signatures: [{keyid: "", sig: $s}]}' >"$out"
		;;
	*) die "add2tkectl artifacts sign failed: $err" ;;
	esac
}

# presigned_payload: the artifact set's payload with every relative URL a
# presigned absolute one, valid for $E2E_PRESIGN_EXPIRES.
presigned_payload() {
	local urls='{}' u
	for u in $(jq -r '.artifacts[].urls[]' "$ARTIFACTS/payload.json" | sort -u); do
		urls=$(jq -c --arg k "$u" --arg v "$(presign "/$u")" '. + {($k): $v}' <<<"$urls")
	done
	jq --argjson m "$urls" '.artifacts[].urls |= map($m[.] // .)' "$ARTIFACTS/payload.json"
}

publish() {
	credentials
	keygen
	local tmp
	tmp=$(mktemp -d)
	presigned_payload >"$tmp/payload.json"
	sign "$tmp/payload.json" "$tmp/manifest.json"
	mv "$tmp/manifest.json" "$BUCKET/manifest.json"
	(
		umask 077
		presign /manifest.json >"$E2E_STATE/manifest-url.tmp"
		mv "$E2E_STATE/manifest-url.tmp" "$E2E_STATE/manifest-url"
		cp "$tmp/payload.json" "$E2E_STATE/payload.json"
	)
	publish_containerd2 "$tmp/payload.json"
	rm -rf "$tmp"
	curl -fsS --max-time 5 -o /dev/null "$(cat "$E2E_STATE/manifest-url")" ||
		die "the presigned manifest URL does not answer 200"
	log "published a signed manifest (links valid $E2E_PRESIGN_EXPIRES): $BASE/manifest.json"
}

# publish_containerd2 PRESIGNED_PAYLOAD: manifest-containerd2.json, the
# payload with its containerd entry replaced by containerd 2's. Skipped when
# build-containerd2.sh has not run (the upgrade test then fails saying so).
publish_containerd2() {
	local entry=$CONTAINERD2_DIR/entry.json
	if [ ! -s "$entry" ]; then
		log "no containerd $CONTAINERD2_VERSION in $CONTAINERD2_DIR: no manifest-containerd2.json (scripts/e2e/build-containerd2.sh)"
		rm -f "$BUCKET/manifest-containerd2.json" "$E2E_STATE/manifest-url-containerd2"
		return 0
	fi
	local tmp url
	tmp=$(mktemp -d)
	url=$(presign "/$(jq -r '.urls[0]' "$entry")")
	jq --argjson e "$(jq -c --arg u "$url" '.urls = [$u]' "$entry")" \
		'.artifacts |= map(if .name == "containerd" then $e else . end)' "$1" >"$tmp/payload.json"
	sign "$tmp/payload.json" "$tmp/manifest.json"
	mv "$tmp/manifest.json" "$BUCKET/manifest-containerd2.json"
	(
		umask 077
		presign /manifest-containerd2.json >"$E2E_STATE/manifest-url-containerd2.tmp"
		mv "$E2E_STATE/manifest-url-containerd2.tmp" "$E2E_STATE/manifest-url-containerd2"
	)
	rm -rf "$tmp"
}

publish_short() {
	local name=${1:?usage: artifacts.sh publish-short NAME SECONDS} secs=${2:?usage: artifacts.sh publish-short NAME SECONDS}
	case $name in *[!a-z0-9-]*) die "publish-short: NAME $name: lower-case letters, digits and - only" ;; esac
	credentials
	local tmp
	tmp=$(mktemp -d)
	E2E_PRESIGN_EXPIRES=${secs}s presigned_payload >"$tmp/payload.json"
	sign "$tmp/payload.json" "$tmp/manifest.json"
	mv "$tmp/manifest.json" "$BUCKET/$name.json"
	(
		umask 077
		E2E_PRESIGN_EXPIRES=${secs}s presign "/$name.json" >"$E2E_STATE/manifest-url-$name.tmp"
		mv "$E2E_STATE/manifest-url-$name.tmp" "$E2E_STATE/manifest-url-$name"
	)
	rm -rf "$tmp"
	log "published $BASE/$name.json, every link valid ${secs}s"
}

# publish_kubelet VERSION: the published set with the kubelet of VERSION in
# place of the environment's, and no kubectl (build-kubelet.sh builds none:
# the pools of the matrix run no kubectl).
publish_kubelet() {
	local v=${1:?usage: artifacts.sh publish-kubelet VERSION}
	local kubelet=$E2E_CACHE/kubelet-$v/bin/kubelet
	[ -x "$kubelet" ] || die "no kubelet $v in $kubelet: scripts/e2e/build-kubelet.sh $v"
	[ -s "$E2E_STATE/payload.json" ] || die "no published set: scripts/e2e/artifacts.sh publish"
	credentials
	ln -f "$kubelet" "$BUCKET/kubelet-$v" 2>/dev/null || cp -f "$kubelet" "$BUCKET/kubelet-$v"
	local tmp entry
	tmp=$(mktemp -d)
	entry=$(jq -cn --arg v "$v" --arg url "$(presign "/kubelet-$v")" --argjson size "$(stat -c %s "$kubelet")" \
		--arg sha "$(sha256sum "$kubelet" | cut -d' ' -f1)" \
		'{name: "kubelet", version: $v, os: "linux", arch: "amd64", kind: "binary", urls: [$url], size: $size, sha256: $sha}')
	jq --argjson e "$entry" '.artifacts |= map(select(.name != "kubectl") | if .name == "kubelet" then $e else . end)' \
		"$E2E_STATE/payload.json" >"$tmp/payload.json"
	sign "$tmp/payload.json" "$tmp/manifest.json"
	mv "$tmp/manifest.json" "$BUCKET/manifest-kubelet-$v.json"
	(
		umask 077
		presign "/manifest-kubelet-$v.json" >"$E2E_STATE/manifest-url-kubelet-$v.tmp"
		mv "$E2E_STATE/manifest-url-kubelet-$v.tmp" "$E2E_STATE/manifest-url-kubelet-$v"
	)
	rm -rf "$tmp"
	log "published $BASE/manifest-kubelet-$v.json (kubelet $v)"
}

# publish_portable: the published set with containerd 2 (static) and the
# static runc and CNI plugins of build-portable.sh in place of Debian 12's.
publish_portable() {
	local dir=$E2E_CACHE/portable
	[ -s "$dir/entries.json" ] || die "no portable runc and CNI plugins in $dir: scripts/e2e/build-portable.sh"
	[ -s "$CONTAINERD2_DIR/entry.json" ] || die "no containerd $CONTAINERD2_VERSION: scripts/e2e/build-containerd2.sh"
	[ -s "$E2E_STATE/payload.json" ] || die "no published set: scripts/e2e/artifacts.sh publish"
	credentials
	local f tmp entries
	# Under portable/: the main set has files of the same names (runc.amd64),
	# whose links and checksums must stay as they are.
	mkdir -p "$BUCKET/portable"
	for f in "$dir"/*.amd64 "$dir"/*.tgz; do
		ln -f "$f" "$BUCKET/portable/" 2>/dev/null || cp -f "$f" "$BUCKET/portable/"
	done
	tmp=$(mktemp -d)
	entries=$(cat "$dir/entries.json")
	for f in $(jq -r '.[].urls[0]' <<<"$entries"); do
		entries=$(jq -c --arg u "$f" --arg p "$(presign "/portable/$f")" 'map(if .urls[0] == $u then .urls = [$p] else . end)' <<<"$entries")
	done
	f=$(jq -r '.urls[0]' "$CONTAINERD2_DIR/entry.json")
	entries=$(jq -c --slurpfile c "$CONTAINERD2_DIR/entry.json" --arg p "$(presign "/$f")" '. + ($c | map(.urls = [$p]))' <<<"$entries")
	jq --argjson e "$entries" '.artifacts |= map(. as $a | ($e | map(select(.name == $a.name)) | first) // $a)' \
		"$E2E_STATE/payload.json" >"$tmp/payload.json"
	sign "$tmp/payload.json" "$tmp/manifest.json"
	mv "$tmp/manifest.json" "$BUCKET/manifest-portable.json"
	(
		umask 077
		presign /manifest-portable.json >"$E2E_STATE/manifest-url-portable.tmp"
		mv "$E2E_STATE/manifest-url-portable.tmp" "$E2E_STATE/manifest-url-portable"
	)
	rm -rf "$tmp"
	log "published $BASE/manifest-portable.json (containerd $CONTAINERD2_VERSION, static runc and CNI plugins)"
}

up() {
	"$(dirname "$0")/net.sh" up
	build_tools
	credentials
	fill_bucket
	serve
	publish
}

down() {
	if running; then
		local pid
		pid=$(cat "$PIDFILE")
		log "stopping the artifact server"
		kill -TERM "$pid" 2>/dev/null || true
		wait_for "cosserver to exit" 10 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$PIDFILE" "$BUCKET" "$E2E_STATE/keys" "$E2E_STATE/manifest-url" "$E2E_STATE/payload.json" "$E2E_STATE/cos-credentials" \
		"$E2E_STATE/manifest-url-containerd2" "$E2E_STATE"/manifest-url-kubelet-* "$E2E_STATE/manifest-url-portable"
}

case ${1:-} in
up) up ;;
publish) publish ;;
publish-short) publish_short "${2:-}" "${3:-}" ;;
publish-kubelet) publish_kubelet "${2:-}" ;;
publish-portable) publish_portable ;;
build) build_tools ;;
down) down ;;
*) die "usage: $0 up|publish|publish-short NAME SECONDS|publish-kubelet VERSION|publish-portable|build|down" ;;
esac
