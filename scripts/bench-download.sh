#!/usr/bin/env bash
# Download benchmark (issue 3): serves a 1 GiB file from test/cosserver on
# loopback and prints, each measured in this run:
#   1. add2tkectl downloader time / curl time for the same file (goal <= 1.05)
#   2. bytes the server sent / file size with the link reset every 100 MiB,
#      for add2tkectl (goal <= 1.01) and for a restart-from-zero downloader
#      (curl without resume in a retry loop) as the reference
#   3. peak RSS of `add2tkectl artifacts pull` downloading it (goal <= 64 MiB)
#   4. time of a second run with a warm cache (goal < 0.3 s)
# then `go test -bench` of the hash/copy loop. The work directory (tmpfs
# /dev/shm when it has room, so the disk does not set the pace; override
# with BENCH_DIR) is deleted at the end.
#
#   scripts/bench-download.sh            # make bench-download
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH

SIZE_MIB=${BENCH_SIZE_MIB:-1024}
RESET_MIB=${BENCH_RESET_MIB:-100}
RUNS=${BENCH_RUNS:-3}
SIZE=$((SIZE_MIB << 20))

parent=${BENCH_DIR:-}
if [ -z "$parent" ]; then
	parent=${TMPDIR:-/tmp}
	if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm | awk 'NR==2{print $4}')" -gt $(((SIZE_MIB * 4 + 256) * 1024)) ]; then
		parent=/dev/shm
	fi
fi
W=$(mktemp -d "$parent/add2tke-bench.XXXXXX")
SERVER_PID=
cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
for t in curl /usr/bin/time openssl; do
	command -v "$t" >/dev/null || { echo "bench-download: $t is needed (scripts/ci-deps.sh installs it)" >&2; exit 1; }
done

log() { printf '>> %s\n' "$*" >&2; }
now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a/b}'; }
median() { sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }

log "building add2tkectl, cosserver and benchdownload into $W/bin"
mkdir -p "$W/bin" "$W/bucket" "$W/keys"
CGO_ENABLED=0 go build -trimpath -o "$W/bin/add2tkectl" ./cmd/add2tkectl
go build -o "$W/bin/cosserver" ./test/cosserver
go build -o "$W/bin/benchdownload" ./test/benchdownload

log "writing a ${SIZE_MIB} MiB file"
head -c "$SIZE" /dev/urandom >"$W/bucket/big.bin"
SUM=$(sha256sum "$W/bucket/big.bin" | cut -d' ' -f1)

AK=AKIDbench SK=bench-secret
"$W/bin/cosserver" serve --dir "$W/bucket" --listen 127.0.0.1:0 --secret-id $AK --secret-key $SK --faults \
	>"$W/server.out" 2>"$W/server.err" &
SERVER_PID=$!
for _ in $(seq 50); do grep -q listening "$W/server.out" 2>/dev/null && break; sleep 0.1; done
BASE=$(awk '{print $4; exit}' "$W/server.out")
presign() { "$W/bin/cosserver" presign --secret-id $AK --secret-key $SK --base "$BASE" --expires 2h "$1"; }
URL=$(presign /big.bin)

"$W/bin/add2tkectl" artifacts keygen --out "$W/keys/k" 2>/dev/null
printf '{"schemaVersion":1,"artifacts":[{"name":"big","version":"v1","os":"linux","arch":"amd64","kind":"binary","urls":["%s"],"size":%d,"sha256":"%s"}]}' \
	"$URL" "$SIZE" "$SUM" >"$W/keys/payload.json"
"$W/bin/add2tkectl" artifacts sign --key "$W/keys/k.key" "$W/keys/payload.json" --out "$W/bucket/manifest.json"
MURL=$(presign /manifest.json)
# A full configuration for `artifacts pull`: the sample, with this manifest.
sed '/^artifacts:/,$d' testdata/config/good/containerd.yaml >"$W/config.yaml"
{
	echo "artifacts:"
	echo "  manifestURL: \"$MURL\""
	echo "  publicKey: |"
	sed 's/^/    /' "$W/keys/k.pub"
} >>"$W/config.yaml"

faults() { curl -fsS -X "$1" ${2:+-d "$2"} "$BASE/_faults" >/dev/null; }
reset_stats() { curl -fsS -X DELETE "$BASE/_stats" >/dev/null; }
sent() { curl -fsS "$BASE/_stats" | sed -n 's/.*"\/big.bin":{[^}]*"bytes":\([0-9]*\).*/\1/p'; }
ours() { # ours CACHE -> wall seconds of the whole process, as for curl
	local s e
	s=$(now)
	"$W/bin/benchdownload" --manifest-url "$MURL" --public-key "$W/keys/k.pub" --cache "$1" >/dev/null
	e=$(now)
	awk -v s="$s" -v e="$e" 'BEGIN{print e-s}'
}

log "1. time: curl vs add2tkectl's downloader, $RUNS runs each, alternating (medians)"
: >"$W/t.curl"
: >"$W/t.ours"
for i in $(seq "$RUNS"); do
	rm -f "$W/curl.out"
	s=$(now)
	curl -fsS -o "$W/curl.out" "$URL"
	e=$(now)
	awk -v s="$s" -v e="$e" 'BEGIN{print e-s}' >>"$W/t.curl"
	rm -rf "$W/cache"
	ours "$W/cache" >>"$W/t.ours"
done
[ "$(sha256sum "$W/curl.out" | cut -d' ' -f1)" = "$SUM" ] || { echo "curl got a wrong file" >&2; exit 1; }
rm -f "$W/curl.out"
T_CURL=$(median <"$W/t.curl")
T_OURS=$(median <"$W/t.ours")

log "2. a reset every ${RESET_MIB} MiB: add2tkectl (resume) and curl restarting from zero"
rm -rf "$W/cache"
reset_stats
faults POST "{\"path\":\"/big.bin\",\"resetEvery\":$((RESET_MIB << 20))}"
ours "$W/cache" >/dev/null
B_OURS=$(sent)
faults DELETE
reset_stats
faults POST "{\"path\":\"/big.bin\",\"resetEvery\":$((RESET_MIB << 20))}"
tries=0
until curl -fsS -o "$W/curl.out" "$URL" 2>/dev/null; do
	tries=$((tries + 1))
	[ $tries -lt 40 ] || { echo "curl restart loop gave up" >&2; break; }
done
B_CURL=$(sent)
faults DELETE
rm -f "$W/curl.out"

log "3. peak RSS of add2tkectl artifacts pull (cold cache)"
rm -rf "$W/root" "$W/offline"
/usr/bin/time -v "$W/bin/add2tkectl" artifacts pull --config "$W/config.yaml" --root "$W/root" \
	--to "$W/offline" --arch amd64 --no-progress >/dev/null 2>"$W/time.pull"
RSS_KB=$(awk -F: '/Maximum resident set size/{gsub(/ /,"",$2); print $2}' "$W/time.pull")
rm -rf "$W/offline"

log "4. second run with a warm cache"
: >"$W/t.warm"
for i in $(seq "$RUNS"); do ours "$W/cache" >>"$W/t.warm"; done
T_WARM=$(median <"$W/t.warm")

echo
echo "download benchmark: ${SIZE_MIB} MiB from cosserver on loopback (work dir on $(df -P "$W" | awk 'NR==2{print $1}'))"
printf '  1. time add2tkectl / curl:            %s  (%.3f s / %.3f s; goal <= 1.05)\n' "$(ratio "$T_OURS" "$T_CURL")" "$T_OURS" "$T_CURL"
printf '  2. bytes sent / size, reset every %d MiB: add2tkectl %s (goal <= 1.01); restart-from-zero curl %s (%d restarts)\n' \
	"$RESET_MIB" "$(ratio "$B_OURS" "$SIZE")" "$(ratio "$B_CURL" "$SIZE")" "$tries"
printf '  3. peak RSS of add2tkectl artifacts pull: %.1f MiB  (goal <= 64 MiB)\n' "$(awk -v k="$RSS_KB" 'BEGIN{print k/1024}')"
printf '  4. warm-cache second run:              %.3f s  (goal < 0.3 s)\n' "$T_WARM"
echo
TMPDIR=$W go test -run '^$' -bench 'SHA256|CopyHash' -benchtime 20x ./pkg/artifact | grep -E '^Benchmark'
