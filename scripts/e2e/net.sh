#!/usr/bin/env bash
# The private network of the environment.
#
#   net.sh up          driver netns $NETNS_DRIVER with bridge $BRIDGE at 10.77.0.1/24,
#                      plus a veth from this (root) netns onto the bridge at 10.77.0.254
#                      so tests and kubectl reach the API server and artifact server.
#   net.sh host N      netns a2t-hostN with eth0 at 10.77.0.1N/24 on the bridge
#   net.sh unhost N    remove a host's netns
#   net.sh down        remove everything above
#
# No forwarding is enabled anywhere: the hosts reach 10.77.0.0/24 only.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root

ROOT_VETH=a2t-root
ROOT_IP=$NET_PREFIX.254

netns_exists() { [ -e "/run/netns/$1" ]; }

up() {
	if ! netns_exists "$NETNS_DRIVER"; then
		log "creating network namespace $NETNS_DRIVER with bridge $BRIDGE $DRIVER_IP/24"
		ip netns add "$NETNS_DRIVER"
	fi
	in_driver ip link set lo up
	if ! in_driver ip link show "$BRIDGE" >/dev/null 2>&1; then
		# A bridge takes the lowest MAC of its ports unless given one; a host
		# joining later would then change the gateway's MAC under every peer's
		# ARP cache, and connections to the API server time out until it ages.
		in_driver ip link add "$BRIDGE" address 02:77:00:00:00:01 type bridge
		in_driver ip addr add "$DRIVER_IP/24" dev "$BRIDGE"
	fi
	in_driver ip link set "$BRIDGE" up
	if ! ip link show "$ROOT_VETH" >/dev/null 2>&1; then
		log "linking this namespace to the bridge ($ROOT_VETH $ROOT_IP/24)"
		ip link add "$ROOT_VETH" type veth peer name a2t-rootp
		ip link set a2t-rootp netns "$NETNS_DRIVER"
		in_driver ip link set a2t-rootp master "$BRIDGE" up
		ip addr add "$ROOT_IP/24" dev "$ROOT_VETH"
	fi
	ip link set "$ROOT_VETH" up
}

host() {
	local n=$1 ns=a2t-host$1 ip
	ip=$(host_ip "$n")
	if ! netns_exists "$ns"; then
		log "creating network namespace $ns ($ip)"
		ip netns add "$ns"
	fi
	ip -n "$ns" link set lo up
	if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
		ip -n "$NETNS_DRIVER" link del "a2t-h$n" >/dev/null 2>&1 || true
		ip link add "a2t-h$n" type veth peer name "a2t-h${n}p"
		ip link set "a2t-h$n" netns "$NETNS_DRIVER"
		ip link set "a2t-h${n}p" netns "$ns"
		ip -n "$ns" link set "a2t-h${n}p" name eth0
		ip -n "$ns" addr add "$ip/24" dev eth0
		in_driver ip link set "a2t-h$n" master "$BRIDGE" up
	fi
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route replace default via "$DRIVER_IP"
}

unhost() {
	local ns=a2t-host$1
	if netns_exists "$ns"; then
		ip netns del "$ns"
	fi
	ip -n "$NETNS_DRIVER" link del "a2t-h$1" >/dev/null 2>&1 || true
}

down() {
	local n
	for n in 1 2 3; do unhost "$n"; done
	ip link del "$ROOT_VETH" >/dev/null 2>&1 || true
	if netns_exists "$NETNS_DRIVER"; then
		log "removing network namespace $NETNS_DRIVER"
		ip netns del "$NETNS_DRIVER"
	fi
}

case ${1:-} in
up) up ;;
host) host "${2:?host number}" ;;
unhost) unhost "${2:?host number}" ;;
down) down ;;
*) die "usage: $0 up|host N|unhost N|down" ;;
esac
