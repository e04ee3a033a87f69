#!/usr/bin/env bash
# scripts/faults.sh: the fault matrix (test/faults) against the e2e
# environment; prints one table. Needs the environment up (scripts/e2e/up).
#
#   QUICK=1        fewer trials per fault (development)
#   FAULTS_ONLY    regexp: only the faults whose name matches
#   FAULTS_HOST    the host it resets and uses (host3)
#   FAULTS_COMMIT  the commit of add2tkectl under test (HEAD)
#   FAULTS_SEED    seed of the random kill instants
#   FAULTS_BUDGET  time after which remaining trials are skipped (40m)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "faults: must run as root" >&2; exit 1; }
scripts/e2e/env >/dev/null || { echo "faults: the e2e environment is not up: scripts/e2e/up" >&2; exit 1; }
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/faults" ./test/faults
"$bin/faults" "$@"
