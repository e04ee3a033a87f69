#!/usr/bin/env bash
# Install benchmark (make bench): where install's time goes, beside the
# physical floor, on BENCH_RUNS (5) fresh hosts of the e2e environment.
# Prints one table, every figure the median of the runs with min and max;
# it asserts no time. Per run, on a pristine host1:
#
#   install        the bundle's `install -o json`, wall time and per phase
#   floors         what no installer can go below, measured in the same run:
#                  download: curl fetching the same artifacts from the same
#                    server (the presigned links of the host's manifest, as
#                    many at once as add2tkectl fetches);
#                  containerd: its unit's start to READY (it notifies once its
#                    socket serves), from the host's journal;
#                  kubelet: its unit's start (the host's journal) to the
#                    Node's Ready as a watch of the API server shows it (TLS
#                    bootstrap and registration are the kubelet's and the
#                    control plane's own time)
#   overhead       install - (download + containerd + kubelet floors) - the
#                  pool's user script (its kubectl is the operator's)
#   no-op, status, uninstall, version   wall times inside the host
#   peak RSS       VmHWM of the add2tkectl process itself (test/benchrun), and
#                  with its reaped children (wait4), for install and status
#
# then the stripped static binary for amd64 and arm64, and the 1 GiB download
# ratio to curl from scripts/bench-download.sh (BENCH_DOWNLOAD=0 skips it).
#
#   scripts/bench.sh          # make bench; BENCH_RUNS=N for more runs
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
. scripts/e2e/lib.sh
need_root
lock_machine
export E2E_LOCKED=1

RUNS=${BENCH_RUNS:-5}
[ "$RUNS" -ge 1 ] || die "BENCH_RUNS=$RUNS: at least 1"
W=$(mktemp -d /tmp/add2tke-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
x() { scripts/e2e/exec host1 "$@"; }

log "bringing up the environment (one host) and the sample pool's bundle"
E2E_HOSTS=1 scripts/e2e/up >&2
scripts/e2e/pool.sh >&2
eval "$(scripts/e2e/env)"
name=$(basename "$BUNDLE")
CGO_ENABLED=0 go build -trimpath -o "$W/benchrun" ./test/benchrun

: >"$W/samples"
sample() { printf '%s\t%s\n' "$1" "$2" >>"$W/samples"; }
# run NAME CMD... : CMD in host1 under benchrun; its stdout to $W/NAME.out,
# the cost to $W/NAME.cost
run() {
	local n=$1
	shift
	x /root/benchrun -out /root/cost.json -- "$@" >"$W/$n.out" 2>"$W/$n.err" || {
		log "$n failed in host1: $(tail -3 "$W/$n.err")"
		return 1
	}
	x cat /root/cost.json >"$W/$n.cost"
}
cost() { jq -r ".$2" "$W/$1.cost"; }
# journal_before UNIT START END: epoch seconds of the last line of UNIT's
# journal in host1 matching START that comes before the first line matching
# END, and of that END line, tab separated
journal_before() {
	x journalctl -o short-unix --no-pager -u "$1" | S=$2 E=$3 awk '
		$0 ~ ENVIRON["E"] { if (at != "") { print at "\t" $1; found = 1; exit } }
		$0 ~ ENVIRON["S"] { at = $1 }
		END { if (!found) exit 1 }'
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a-b}'; }

for i in $(seq "$RUNS"); do
	log "run $i of $RUNS: a pristine host1"
	scripts/e2e/reset host1 >&2
	x sh -c "cat > /root/$name && chmod 0700 /root/$name" <"$BUNDLE"
	x sh -c 'cat > /root/benchrun && chmod 0755 /root/benchrun' <"$W/benchrun"
	# The page cache then holds the binary, as for an operator's second
	# command; the first command's read of 31 MB is the disk's, not ours.
	x /root/"$name" version >/dev/null

	# The Node's Ready as the API server shows it, timestamped here (the
	# hosts share this machine's clock): the kubelet logs no NodeReady line
	# at its default verbosity.
	"$KUBECTL" --kubeconfig "$KUBECONFIG" get nodes --watch --output-watch-events \
		-o jsonpath='{.type} {.object.metadata.name} {.object.metadata.uid} {.object.status.conditions[?(@.type=="Ready")].status}{"\n"}' \
		> >(while read -r line; do echo "$(date +%s.%N) $line"; done >"$W/watch") 2>/dev/null &
	watcher=$!
	run install /root/"$name" install -o json --no-progress || die "install failed on run $i"
	kill "$watcher" 2>/dev/null || true
	wait "$watcher" 2>/dev/null || true
	sample "install" "$(cost install wallSeconds)"
	while IFS=$'\t' read -r p s; do sample "  phase $p" "$s"; done \
		< <(jq -r '.phases[] | [.name, .durationSeconds] | @tsv' "$W/install.out")
	sample "rss install (own)" "$(cost install hwmKiB)"
	sample "rss install (with children)" "$(cost install maxRSSKiB)"
	# What install fetched: the cached artifacts of its manifest.
	x cat /var/lib/add2tkectl/manifest.json | jq -r .payload | base64 -d >"$W/manifest"
	x ls /var/cache/add2tkectl >"$W/cached"
	jq -r --rawfile c "$W/cached" '.artifacts[] | select(.sha256 as $s | $c | split("\n") | index($s)) | .urls[0]' \
		"$W/manifest" >"$W/urls"
	[ -s "$W/urls" ] || die "no cached artifact of the manifest in host1"

	uid=$("$KUBECTL" --kubeconfig "$KUBECONFIG" get node host1 -o jsonpath='{.metadata.uid}')
	kready=$(awk -v u="$uid" '$2 != "DELETED" && $3 == "host1" && $4 == u && $5 == "True" {print $1; exit}' "$W/watch")
	[ -n "$kready" ] || die "the API server's watch never showed Node host1 ($uid) Ready"
	kstart=$(x journalctl -o short-unix --no-pager -u kubelet | awk '/systemd\[1\]: Started kubelet/ {t = $1} END {print t}')
	[ -n "$kstart" ] || die "no start of the kubelet in host1's journal"
	sample "floor kubelet start to Node Ready" "$(sub "$kready" "$kstart")"
	run noop /root/"$name" install -o json --no-progress || die "no-op re-run failed"
	[ "$(jq -r .changed "$W/noop.out")" = false ] || die "the re-run on run $i changed the host: not a no-op"
	sample "no-op re-run" "$(cost noop wallSeconds)"
	sample "rss no-op (own)" "$(cost noop hwmKiB)"
	run status /root/"$name" status -o json || die "status failed on run $i"
	sample "status -o json" "$(cost status wallSeconds)"
	sample "rss status (own)" "$(cost status hwmKiB)"
	run version /root/"$name" version
	sample "version" "$(cost version wallSeconds)"
	run uninstall /root/"$name" uninstall -o json --no-progress || die "uninstall failed on run $i"
	sample "uninstall" "$(cost uninstall wallSeconds)"
	sample "rss uninstall (own)" "$(cost uninstall hwmKiB)"
	# The download floor: curl, the same artifacts, the same links (listed
	# above), on the host made quiet again by the uninstall (no kubelet or
	# pods).
	args=()
	n=0
	while read -r u; do
		n=$((n + 1))
		args+=(-o "/root/floor.$n" "$u")
	done <"$W/urls"
	run curl curl -fsS --parallel --parallel-max 3 "${args[@]}" || die "curl failed"
	x sh -c 'rm -f /root/floor.*'
	sample "floor download (curl, $n artifacts)" "$(cost curl wallSeconds)"

	IFS=$'\t' read -r starting started < <(journal_before containerd 'systemd\[1\]: Starting containerd' 'systemd\[1\]: Started containerd') ||
		die "no start of containerd in host1's journal"
	sample "floor containerd start" "$(sub "$started" "$starting")"
	us=$(jq -r '[.phases[] | select(.name == "userscript") | .durationSeconds] | add // 0' "$W/install.out")
	sample "overhead (install - floors - userscript)" "$(awk -v i="$(cost install wallSeconds)" -v d="$(cost curl wallSeconds)" \
		-v r="$(sub "$started" "$starting")" -v k="$(sub "$kready" "$kstart")" -v u="$us" 'BEGIN{printf "%.3f", i-d-r-k-u}')"

done
scripts/e2e/reset host1 >&2

log "binary sizes (stripped, static)"
for arch in amd64 arm64; do
	GOARCH=$arch CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$W/add2tkectl-$arch" ./cmd/add2tkectl
done

ratio=
if [ "${BENCH_DOWNLOAD:-1}" != 0 ]; then
	log "the 1 GiB download beside curl (scripts/bench-download.sh)"
	scripts/bench-download.sh >"$W/download"
	ratio=$(sed -n 's/.*time add2tkectl \/ curl: *//p' "$W/download")
fi

echo
echo "install benchmark: $RUNS fresh hosts ($HOST_SUITE, containerd, Kubernetes $K8S_VERSION), $(nproc) cores"
# median, min and max of each metric, in the order of first appearance;
# times in seconds, RSS in MiB
awk -F'\t' '
	!($1 in n) { order[++m] = $1 }
	{ v[$1, ++n[$1]] = $2 }
	END {
		printf "%-44s %9s %9s %9s\n", "", "median", "min", "max"
		for (k = 1; k <= m; k++) {
			key = order[k]; c = n[key]
			for (i = 1; i <= c; i++) a[i] = v[key, i] + 0
			for (i = 2; i <= c; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
			med = (c % 2) ? a[(c + 1) / 2] : (a[c / 2] + a[c / 2 + 1]) / 2
			unit = "s"; div = 1
			if (key ~ /^rss/) { unit = "MiB"; div = 1024 }
			printf "%-44s %7.3f %-3s %5.3f %-3s %5.3f %s\n", key, med / div, unit, a[1] / div, unit, a[c] / div, unit
		}
	}' "$W/samples"
for arch in amd64 arm64; do
	printf '%-44s %s bytes (%.1f MB)\n' "binary $arch" "$(stat -c %s "$W/add2tkectl-$arch")" "$(awk -v s="$(stat -c %s "$W/add2tkectl-$arch")" 'BEGIN{print s/1e6}')"
done
[ -z "$ratio" ] || printf '%-44s %s\n' "download 1 GiB, add2tkectl / curl" "$ratio"
