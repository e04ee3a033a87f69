#!/usr/bin/env bash
# Status benchmark (issue 6): wall time of `status -o json` on a joined e2e
# host, as an operator's shell sees it (bash's time, process start to exit),
# RUNS times; prints every run, the median, min and max, and the exit code
# and verdict of the last run. The goal is a median under 0.3 s on a healthy
# joined host.
#
# The host must have joined with the bundled binary in /root, e.g. after
#   E2E_KEEP=1 go test -tags e2e ./test/e2e -run TestStatusOfAJoinedHost
# (which leaves host1 joined and healthy); then
#   scripts/bench-status.sh [HOST] [RUNS]     # host1, 10
set -euo pipefail
cd "$(dirname "$0")/.."

HOST=${1:-host1}
RUNS=${2:-10}

bin=$(scripts/e2e/exec "$HOST" sh -c 'ls /root/add2tkectl-* 2>/dev/null | head -1')
[ -n "$bin" ] || { echo "bench-status: no /root/add2tkectl-* in $HOST: install a bundle there first" >&2; exit 1; }

# One warm-up run: the page cache then holds the binary, as it does for a
# monitoring loop that runs status every minute.
scripts/e2e/exec "$HOST" "$bin" status -o json >/dev/null 2>&1 || true

times=$(scripts/e2e/exec "$HOST" bash -c "TIMEFORMAT=%R; for i in \$(seq $RUNS); do { time $bin status -o json >/dev/null 2>&1; } 2>&1; done")
echo "status -o json on $HOST ($bin), $RUNS runs (s):" $times
echo "$times" | sort -n | awk '{a[NR]=$1} END {
	m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
	printf "median %.3f s  min %.3f s  max %.3f s  (goal: median < 0.300 s)\n", m, a[1], a[NR] }'

set +e
scripts/e2e/exec "$HOST" "$bin" status >/tmp/bench-status.$$ 2>&1
code=$?
set -e
tail -1 /tmp/bench-status.$$
rm -f /tmp/bench-status.$$
echo "exit code $code"
