#!/usr/bin/env bash
# compat.sh (make compat): the compatibility matrix on real kubelets. Builds the
# kubelet of each Kubernetes minor from 1.18 to 1.37 (build-kubelet.sh; about
# 3-9 min each on 2 cores the first time, cached after), runs every cell
# (TestCompatMatrix: install, the kubelet's health and start-up warnings,
# Ready with the pool's settings, uninstall diff-clean) and the kubelet
# upgrades (TestInstallUpgradesTheKubeletOneMinorInPlace), and prints one
# table: minor x runtime x host -> built, kubelet accepted the configuration,
# Ready, upgrade, with times.
#
#   COMPAT_MINORS="1.23 1.34"   only these minors (all by default)
#   COMPAT_RESULTS=FILE         keep the cells' JSON lines there
#   COMPAT_TABLE_ONLY=1         print the table of COMPAT_RESULTS, run nothing
#                               (runs of a few minors each, appended with cat)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root

# The newest patch of each minor whose module graph the Go module proxy
# serves whole. It lists only 1.29 and later; older ones answer by exact
# version. Three minors' newest patches are not served whole, and the newest
# that is was taken (scripts/e2e/README.md has the errors): 1.18.19
# (k8s.io/api v0.18.20 refused), 1.27.8 (of 1.27.9-1.27.16, each lacks
# k8s.io/kubernetes or a staging module), 1.31.13 (k8s.io/kube-scheduler
# v0.31.14 refused). 1.35 is the environment's control plane and kubelet
# (v1.35.4; 1.35.6 is served too).
VERSIONS="v1.18.19 v1.19.16 v1.20.15 v1.21.14 v1.22.17 v1.23.17 v1.24.17 v1.25.16 v1.26.15 v1.27.8
v1.28.15 v1.29.15 v1.30.14 v1.31.13 v1.32.13 v1.33.13 v1.34.5 v1.35.4 v1.36.5 v1.37.2"
ENV_VERSION=$K8S_VERSION
# docker: the newest minor with dockershim, the first with cri-dockerd and
# the environment's; hosts: Debian 11 (systemd 247) and 13 (257) beside 12.
DOCKER_VERSIONS="v1.23.17 v1.24.17 v1.35.4"
HOST_CELLS="v1.35.4/containerd/bullseye v1.35.4/containerd/trixie v1.34.5/containerd/trixie"
UPGRADES="v1.34.5>v1.35.4/containerd v1.23.17>v1.24.17/docker"

want_minor() {
	[ -z "${COMPAT_MINORS:-}" ] && return 0
	local m=${1#v}
	m=${m%.*}
	case " $COMPAT_MINORS " in *" $m "*) return 0 ;; esac
	return 1
}

start=$SECONDS
results=${COMPAT_RESULTS:-$E2E_STATE/compat-results.jsonl}
mkdir -p "$(dirname "$results")"
[ -n "${COMPAT_TABLE_ONLY:-}" ] || : >"$results"

if [ -z "${COMPAT_TABLE_ONLY:-}" ]; then
	cells=() upgrades=()
	for v in $VERSIONS; do
		want_minor "$v" || continue
		if [ "$v" != "$ENV_VERSION" ]; then
			log "kubelet $v: $("$(dirname "$0")/build-kubelet.sh" "$v" 2>&1 | tail -1)"
			grep -q '^built' "$E2E_CACHE/kubelet-$v/result" || continue
		fi
		cells+=("$v/containerd/bookworm")
		case " $DOCKER_VERSIONS " in *" $v "*) cells+=("$v/docker/bookworm") ;; esac
	done
	for c in $HOST_CELLS; do
		want_minor "${c%%/*}" && cells+=("$c")
	done
	for u in $UPGRADES; do
		from=${u%%>*} rest=${u#*>}
		to=${rest%%/*}
		want_minor "$from" && want_minor "$to" || continue
		for v in $from $to; do
			[ "$v" = "$ENV_VERSION" ] || grep -qs '^built' "$E2E_CACHE/kubelet-$v/result" || continue 2
		done
		upgrades+=("$u")
	done

	log "running ${#cells[@]} cells and ${#upgrades[@]} upgrades"
	tests='TestCompatMatrix'
	[ ${#upgrades[@]} -eq 0 ] || tests='TestCompatMatrix|TestInstallUpgradesTheKubeletOneMinorInPlace'
	testlog=$(dirname "$results")/compat-test.log
	(
		cd "$E2E_ROOT"
		E2E_COMPAT="${cells[*]}" E2E_COMPAT_UPGRADES="${upgrades[*]}" E2E_COMPAT_RESULTS=$results \
			go test -tags e2e -count=1 -timeout 180m -v -run "^($tests)\$" ./test/e2e/ >"$testlog" 2>&1
	) || log "some cells failed; see $testlog"
fi

# The table: one row per minor x runtime x host, with the build's outcome
# for minors that have no cell.
table() {
	printf '%-9s %-10s %-9s %-14s %-9s %-7s %-9s %-7s %s\n' KUBELET RUNTIME HOST BUILT ACCEPTED READY UPGRADE CLEAN SECONDS
	local v r built
	for v in $VERSIONS; do
		want_minor "$v" || continue
		if [ "$v" = "$ENV_VERSION" ]; then
			built="environment"
		else
			r=$(cat "$E2E_CACHE/kubelet-$v/result" 2>/dev/null || echo "not tried")
			case $r in
			built*) built="yes ${r#built }"; built=${built%% replace*}s ;;
			*) printf '%-9s %-10s %-9s %s\n' "$v" - - "no: ${r#failed }"; continue ;;
			esac
		fi
		if ! jq -se --arg v "$v" 'any(.[]; .kubelet == $v)' "$results" >/dev/null 2>&1; then
			printf '%-9s %-10s %-9s %-14s %s\n' "$v" - - "$built" "(no cell run)"
			continue
		fi
		jq -r --arg v "$v" --arg b "$built" 'select(.kubelet == $v) |
			[.kubelet, .runtime, .host, $b,
			 (if .healthz == "ok" and ((.warnings // []) | length) == 0 then "yes" elif .healthz == "" then "-" else "no" end),
			 (if .ready then "yes" elif .inSkew then "NO" else "no(skew)" end),
			 "-", (if .clean then "yes" else "NO" end), (.seconds | floor | tostring)] | @tsv' "$results" |
			while IFS=$'\t' read -r k rt h b a rd up cl s; do
				printf '%-9s %-10s %-9s %-14s %-9s %-7s %-9s %-7s %s\n' "$k" "$rt" "$h" "$b" "$a" "$rd" "$up" "$cl" "$s"
			done
	done
	jq -r 'select(.upgrade) | [.upgrade, (if .failed then "FAILED" else "passed" end), (.seconds | floor | tostring)] | @tsv' "$results" |
		while IFS=$'\t' read -r u ok s; do
			printf 'upgrade %-32s %-7s %ss\n' "$u" "$ok" "$s"
		done
}
table
[ -n "${COMPAT_TABLE_ONLY:-}" ] || log "compat matrix in $((SECONDS - start))s; cells' details in $results, test log $testlog"
