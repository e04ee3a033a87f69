# shellcheck shell=bash
# Common settings and helpers of the end-to-end environment. Sourced, not run.
#
# Variables (all optional):
#   E2E_CACHE    cache of built tools, rootfs and artifacts   (/var/cache/add2tkectl-e2e)
#   E2E_STATE    runtime state: PKI, kubeconfigs, logs, hosts (/var/run/add2tkectl-e2e)
#   K8S_VERSION  Kubernetes version of the control plane and kubelet (v1.35.4)
#   ETCD_VERSION etcd version (v3.6.16)
#   E2E_HOSTS    number of hosts for `up` (1..3, default 1)
#   E2E_HOST_SUITE Debian release a host boots (bookworm; bullseye, trixie)

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_CACHE=${E2E_CACHE:-/var/cache/add2tkectl-e2e}
E2E_STATE=${E2E_STATE:-/var/run/add2tkectl-e2e}
K8S_VERSION=${K8S_VERSION:-v1.35.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
CRI_DOCKERD_VERSION=${CRI_DOCKERD_VERSION:-v0.4.0}
# containerd 2 of the runtime upgrade test (build-containerd2.sh)
CONTAINERD2_VERSION=${CONTAINERD2_VERSION:-v2.4.2}
E2E_HOSTS=${E2E_HOSTS:-1}
HOST_SUITE=${E2E_HOST_SUITE:-bookworm}
case $HOST_SUITE in bullseye | bookworm | trixie) ;; *) echo "E2E_HOST_SUITE=$HOST_SUITE: bullseye, bookworm or trixie" >&2; exit 1 ;; esac

K8S_BIN=$E2E_CACHE/k8s-$K8S_VERSION/bin
ETCD_BIN=$E2E_CACHE/etcd-$ETCD_VERSION/bin
CRI_DOCKERD_BIN=$E2E_CACHE/cri-dockerd-$CRI_DOCKERD_VERSION/bin
CONTAINERD2_DIR=$E2E_CACHE/containerd-$CONTAINERD2_VERSION
ROOTFS=$E2E_CACHE/rootfs/$HOST_SUITE
ARTIFACTS=$E2E_CACHE/artifacts/$K8S_VERSION

# The private network. The driver netns holds the control plane and the
# artifact server; each host has its own netns joined over a veth pair.
NETNS_DRIVER=a2t-e2e
BRIDGE=a2t-br0
DRIVER_IP=10.77.0.1
NET_PREFIX=10.77.0
APISERVER_PORT=6443
ARTIFACT_PORT=8080
# Bootstrap token of the environment (a test secret, not a credential).
BOOTSTRAP_TOKEN_ID=${BOOTSTRAP_TOKEN_ID:-a2te2e}
BOOTSTRAP_TOKEN_SECRET=${BOOTSTRAP_TOKEN_SECRET:-0123456789abcdef}


log() { printf '%s e2e: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

# host_ip N -> 10.77.0.1N
host_ip() { echo "$NET_PREFIX.$((10 + $1))"; }
# host_index hostN -> N
host_index() {
	case $1 in host[1-3]) echo "${1#host}" ;; *) die "unknown host '$1' (host1..host3)" ;; esac
}
host_dir() { echo "$E2E_STATE/hosts/$1"; }
# host_pid HOST -> PID 1 of the host as seen from here, or nothing.
host_pid() {
	local f
	f=$(host_dir "$1")/pid
	[ -s "$f" ] || return 0
	local pid
	pid=$(cat "$f")
	[ -d "/proc/$pid" ] && echo "$pid"
	return 0
}

# wait_for DESC TIMEOUT_SECONDS CMD... : poll CMD until it succeeds, bounded.
wait_for() {
	local desc=$1 timeout=$2
	shift 2
	local deadline=$((SECONDS + timeout)) delay=0.05
	while ! "$@" >/dev/null 2>&1; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			log "timed out after ${timeout}s waiting for $desc"
			return 1
		fi
		sleep "$delay"
		case $delay in 0.05) delay=0.1 ;; 0.1) delay=0.2 ;; 0.2) delay=0.5 ;; esac
	done
}

in_driver() { ip netns exec "$NETNS_DRIVER" "$@"; }

# cgroup_v1_dirs: mount points of the cgroup v1 hierarchies on this machine
# (named ones included), one a line.
cgroup_v1_dirs() { awk '$3 == "cgroup" {print $2}' /proc/mounts; }

# cgroup_key MOUNTPOINT: how /proc/PID/cgroup names that hierarchy
# ("cpu", "cpu,cpuacct", "name=systemd", or "" for the unified one).
cgroup_key() {
	local opts
	opts=$(awk -v m="$1" '$2 == m {print $3" "$4}' /proc/mounts)
	case $opts in
	cgroup2*) echo "" ;;
	*) echo "${opts#* }" | tr ',' '\n' |
		grep -Ev '^(rw|ro|relatime|nosuid|nodev|noexec|clone_children|noprefix|xattr|cpuset_v2_mode)$' | paste -sd, ;;
	esac
}

# cgroup_path_in MOUNTPOINT PID: the cgroup of PID in that hierarchy.
cgroup_path_in() {
	local key
	key=$(cgroup_key "$1")
	if [ -z "$key" ]; then
		awk -F: '$1 == "0" {print $3}' "/proc/$2/cgroup"
	else
		awk -F: -v k="$key" '$2 == k {print $3}' "/proc/$2/cgroup"
	fi
}

# join_cgroups_of PID: move this shell into PID's cgroup in every hierarchy.
join_cgroups_of() {
	local mnt path
	while read -r mnt; do
		path=$(cgroup_path_in "$mnt" "$1")
		[ -n "$path" ] && [ -e "$mnt$path/cgroup.procs" ] || continue
		echo "$BASHPID" >"$mnt$path/cgroup.procs" 2>/dev/null || true
	done < <(awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/mounts)
}

# close_inherited_fds closes every descriptor but stdin, stdout and stderr,
# in the subshell that becomes a daemon: a lock its caller holds on some fd
# (`flock FILE cmd`, lock_machine's fd 9) must not be kept by a daemon that
# outlives the caller, or the next user waits for ever.
close_inherited_fds() {
	local fd
	for fd in /proc/"$BASHPID"/fd/*; do
		fd=${fd##*/}
		if [ "$fd" -gt 2 ] 2>/dev/null; then
			eval "exec $fd>&-" 2>/dev/null || true
		fi
	done
}

# lock_machine: one user of the environment at a time on this machine (it is
# shared: netns names, addresses, hosts). Entry points (up, down, reset, demo)
# call it; the Go harness takes the same lock and sets E2E_LOCKED=1 for the
# scripts it runs. Waits up to an hour for the holder.
E2E_LOCK=/run/add2tkectl-e2e.lock
lock_machine() {
	[ -z "${E2E_LOCKED:-}" ] || return 0
	exec 9>"$E2E_LOCK"
	if ! flock -n 9; then
		log "waiting for another end-to-end run or demo to finish ($E2E_LOCK)"
		flock -w 3600 9 || die "gave up waiting for $E2E_LOCK"
	fi
	export E2E_LOCKED=1
}
