#!/usr/bin/env bash
# systemd-nspawn hosts with systemd + D-Bus as PID 1.
#
#   host.sh boot HOST    boot hostN (host1..host3) on a fresh overlay of the rootfs
#   host.sh kill HOST    stop it: SIGKILL its PID 1, unmount, remove its cgroups
#   host.sh reset HOST   kill, drop its overlay upper dir and data dirs, boot again
#                        (nothing to do when it booted and nothing ran in it since)
#   host.sh down HOST    kill and remove its state and network namespace
#
# Each host: netns a2t-hostN (10.77.0.1N), overlay root at $E2E_STATE/hosts/HOST/root,
# plain directories bound at /var/lib/containerd and /var/lib/docker (overlayfs
# snapshotters cannot use an overlay root), its own cgroup in every hierarchy.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root

# cgroup_dirs HOST: the host's cgroup directory in every hierarchy (v1 and the
# unified one), below the cgroup this script runs in, recorded at first use so
# that kill/down find the same ones from another shell.
cgroup_dirs() {
	local base_file=$E2E_STATE/cgroup-dirs
	if [ ! -s "$base_file" ]; then
		mkdir -p "$E2E_STATE"
		local mnt line rel
		: >"$base_file.tmp"
		while read -r mnt; do
			# /proc/self/cgroup: ID:controllers:path; match the hierarchy by its mount options.
			rel=$(cgroup_path_in "$mnt" self)
			echo "$mnt${rel%/}/a2t-e2e" >>"$base_file.tmp"
		done < <(awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/mounts)
		mv "$base_file.tmp" "$base_file"
	fi
	sed "s|\$|/$1|" "$base_file"
}

make_cgroups() {
	local d parent
	while read -r d; do
		mkdir -p "$d"
		case $d in
		*/cpuset/*)
			# cpuset needs cpus/mems before a process may join; copy them down.
			parent=$(dirname "$d")
			for f in cpuset.cpus cpuset.mems; do
				[ -s "$parent/$f" ] && [ -n "$(cat "$parent/$f")" ] || cat "$(dirname "$parent")/$f" >"$parent/$f"
				cat "$parent/$f" >"$d/$f"
			done
			;;
		esac
	done < <(cgroup_dirs "$1")
}

remove_cgroups() {
	local d
	while read -r d; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
		[ ! -d "$d" ] || { log "warning: cgroup $d still busy"; continue; }
		# the shared a2t-e2e parent goes when the last host has gone
		rmdir "$(dirname "$d")" 2>/dev/null || true
	done < <(cgroup_dirs "$1")
}

# nspawn_pid_of HOST: PID of the host's systemd-nspawn (outside), if running.
nspawn_pid_of() {
	local f
	f=$(host_dir "$1")/nspawn.pid
	[ -s "$f" ] && [ -d "/proc/$(cat "$f")" ] && cat "$f"
	return 0
}

# find_pid1 NSPAWN_PID: the process that is PID 1 in the host's PID namespace.
find_pid1() {
	local p
	for p in $(pgrep -P "$1" 2>/dev/null); do
		if awk '$1 == "NSpid:" && $NF == 1 && NF == 3 {found=1} END {exit !found}' "/proc/$p/status" 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

write_host_files() {
	local h=$1 n=$2 upper=$3 ip
	ip=$(host_ip "$n")
	mkdir -p "$upper/etc" "$upper/usr/local/sbin"
	echo "$h" >"$upper/etc/hostname"
	cat >"$upper/etc/hosts" <<-HOSTS
		127.0.0.1 localhost
		::1 localhost ip6-localhost ip6-loopback
		$ip $h
		$DRIVER_IP apiserver.e2e.local artifacts.e2e.local
	HOSTS
	: >"$upper/etc/resolv.conf"
	# The controller's key (fleet.sh keys): ansible-playbook logs in as root.
	if [ -s "$E2E_STATE/ssh/id_ed25519.pub" ]; then
		mkdir -p -m 0700 "$upper/root/.ssh"
		install -m 0600 "$E2E_STATE/ssh/id_ed25519.pub" "$upper/root/.ssh/authorized_keys"
	fi
	# PID 1 wrapper: nspawn mounts the v1 controllers read-only; kubelet and
	# containerd need them writable. A bind remount works where remount does not.
	cat >"$upper/usr/local/sbin/e2e-init" <<-'INIT'
		#!/bin/sh
		for d in $(awk '$3 == "cgroup" {print $2}' /proc/mounts); do
			mount -o remount,bind,rw "$d" "$d" || echo "e2e-init: cannot remount $d rw" >&2
		done
		# /proc/sys is writable here (nspawn API VFS), and kernel.* and vm.*
		# are the machine's: shield the ones kubelet sets with plain files.
		mkdir -p /var/lib/e2e-sysctl
		for s in kernel/panic kernel/panic_on_oops vm/overcommit_memory vm/panic_on_oom \
			kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
			[ -e "/proc/sys/$s" ] || continue
			f=/var/lib/e2e-sysctl/$(echo "$s" | tr / .)
			[ -f "$f" ] || cat "/proc/sys/$s" >"$f"
			mount --bind "$f" "/proc/sys/$s" || echo "e2e-init: cannot shield $s" >&2
		done
		exec /lib/systemd/systemd "$@"
	INIT
	chmod 0755 "$upper/usr/local/sbin/e2e-init"
}

boot() {
	local h=$1 n dir ip start=$SECONDS
	n=$(host_index "$h")
	dir=$(host_dir "$h")
	if [ -n "$(host_pid "$h")" ]; then
		log "$h is already running (PID 1 = $(host_pid "$h"))"
		return 0
	fi
	[ -f "$ROOTFS/.e2e-rootfs-done" ] || die "no rootfs at $ROOTFS: run scripts/e2e/build-rootfs.sh"
	"$(dirname "$0")/net.sh" up
	"$(dirname "$0")/net.sh" host "$n"
	# A boot on a disk that was used before (a reboot) is not pristine.
	local fresh=
	[ -d "$dir/upper" ] || fresh=1
	mkdir -p "$dir/upper" "$dir/work" "$dir/root" "$dir/containerd" "$dir/docker"
	echo "$HOST_SUITE" >"$dir/suite"
	write_host_files "$h" "$n" "$dir/upper"
	mountpoint -q "$dir/root" ||
		mount -t overlay "a2t-$h" -o "lowerdir=$ROOTFS,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
	make_cgroups "$h"
	local procs=()
	mapfile -t procs < <(cgroup_dirs "$h" | sed 's|$|/cgroup.procs|')
	log "booting $h ($(host_ip "$n"), Debian $HOST_SUITE) with systemd-nspawn"
	# The launcher joins the host's cgroups, then becomes systemd-nspawn.
	(
		close_inherited_fds
		for f in "${procs[@]}"; do echo "$BASHPID" >"$f"; done
		export SYSTEMD_SECCOMP=0 SYSTEMD_NSPAWN_API_VFS_WRITABLE=1
		exec setsid systemd-nspawn --quiet --register=no --keep-unit \
			--directory="$dir/root" --machine="a2t-$h" --hostname="$h" \
			--network-namespace-path="/run/netns/a2t-$h" \
			--capability=all --bind-ro=/dev/kmsg \
			--bind="$dir/containerd:/var/lib/containerd" \
			--bind="$dir/docker:/var/lib/docker" \
			--resolv-conf=off --timezone=off --link-journal=no \
			--console=pipe \
			--setenv=SYSTEMD_LOG_COLOR=0 \
			/usr/local/sbin/e2e-init
	) </dev/null >"$dir/console.log" 2>&1 &
	echo $! >"$dir/nspawn.pid"
	local nspawn=$! pid1=
	wait_for "$h's PID 1" 15 find_pid1 "$nspawn" || die "$h did not start; see $dir/console.log"
	pid1=$(find_pid1 "$nspawn")
	echo "$pid1" >"$dir/pid"
	wait_for "$h's systemd to finish booting" "${E2E_BOOT_TIMEOUT:-60}" host_booted "$pid1" ||
		die "$h did not boot; see $dir/console.log and: scripts/e2e/exec $h systemctl --failed"
	# "untouched" until the first scripts/e2e/exec: a reset may skip this boot
	[ -z "$fresh" ] || : >"$dir/untouched"
	log "$h up in $((SECONDS - start))s (PID 1 = $pid1, state $(host_state "$pid1"))"
}

host_state() {
	nsenter -t "$1" -a systemctl is-system-running 2>/dev/null || true
}

host_booted() {
	case $(host_state "$1") in running | degraded) return 0 ;; *) return 1 ;; esac
}

kill_host() {
	local h=$1 dir pid1 nspawn
	dir=$(host_dir "$h")
	pid1=$(host_pid "$h")
	nspawn=$(nspawn_pid_of "$h")
	# A frozen cgroup (runc freezes a container while it sets device rules,
	# and leaves it FROZEN when killed meanwhile) keeps SIGKILL from landing.
	thaw "$h"
	if [ -n "$pid1" ]; then
		log "stopping $h (SIGKILL to its PID 1 $pid1)"
		kill -KILL "$pid1" 2>/dev/null || true
	fi
	if [ -n "$nspawn" ]; then
		wait_for "$h's systemd-nspawn to exit" 20 bash -c "! kill -0 $nspawn" ||
			{ log "systemd-nspawn $nspawn of $h still alive; killing it"; kill -KILL "$nspawn" 2>/dev/null || true; }
	fi
	rm -f "$dir/pid" "$dir/nspawn.pid" "$dir/untouched"
	if mountpoint -q "$dir/root" 2>/dev/null; then
		umount "$dir/root" || umount -l "$dir/root"
	fi
	# Anything still in the host's cgroups (there should be nothing) goes too.
	local d p
	thaw "$h"
	while read -r d; do
		[ -d "$d" ] || continue
		for p in $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
	done < <(cgroup_dirs "$h")
	wait_for "$h's cgroups to empty" 10 cgroups_empty "$h" || log "warning: processes remain in $h's cgroups"
	remove_cgroups "$h"
}

# thaw HOST: every frozen cgroup of the host, v1 (freezer.state) and v2 (cgroup.freeze).
thaw() {
	local d f
	while read -r d; do
		[ -d "$d" ] || continue
		while read -r f; do
			case $f in
			*/freezer.state) [ "$(cat "$f" 2>/dev/null)" = THAWED ] || echo THAWED >"$f" 2>/dev/null || true ;;
			*/cgroup.freeze) [ "$(cat "$f" 2>/dev/null)" = 0 ] || echo 0 >"$f" 2>/dev/null || true ;;
			esac
		done < <(find "$d" \( -name freezer.state -o -name cgroup.freeze \) 2>/dev/null)
	done < <(cgroup_dirs "$1")
}

cgroups_empty() {
	local d
	while read -r d; do
		[ -d "$d" ] || continue
		[ -z "$(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null)" ] || return 1
	done < <(cgroup_dirs "$1")
}

wipe() {
	local dir
	dir=$(host_dir "$1")
	# Nothing may be mounted below a host directory before it is deleted.
	if grep -q " $dir/" /proc/mounts; then
		die "mounts remain below $dir: $(grep " $dir/" /proc/mounts | awk '{print $2}' | paste -sd' ')"
	fi
	rm -rf "$dir/upper" "$dir/work" "$dir/containerd" "$dir/docker"
}

# flush_netfilter: the host's network namespace outlives its boots; the
# iptables rules an earlier test's kubelet or runtime made go with the host.
flush_netfilter() {
	local ns=a2t-$1 bin t
	for bin in iptables ip6tables; do
		for t in filter nat mangle raw; do
			ip netns exec "$ns" "$bin" -t "$t" -F 2>/dev/null || true
			ip netns exec "$ns" "$bin" -t "$t" -X 2>/dev/null || true
		done
		for c in INPUT FORWARD OUTPUT; do
			ip netns exec "$ns" "$bin" -P "$c" ACCEPT 2>/dev/null || true
		done
	done
}

reset() {
	local start=$SECONDS dir
	dir=$(host_dir "$1")
	if [ -e "$dir/untouched" ] && [ -n "$(host_pid "$1")" ] && [ "$(cat "$dir/suite" 2>/dev/null)" = "$HOST_SUITE" ]; then
		log "$1 is pristine (booted, nothing run in it yet)"
		return 0
	fi
	kill_host "$1"
	wipe "$1"
	flush_netfilter "$1"
	boot "$1"
	log "$1 reset in $((SECONDS - start))s"
}

down() {
	local n
	n=$(host_index "$1")
	kill_host "$1"
	wipe "$1"
	rm -rf "$(host_dir "$1")"
	"$(dirname "$0")/net.sh" unhost "$n"
}

case ${1:-} in
boot) boot "${2:?host}" ;;
kill) kill_host "${2:?host}" ;;
reset) reset "${2:?host}" ;;
down) down "${2:?host}" ;;
*) die "usage: $0 boot|kill|reset|down HOST" ;;
esac
