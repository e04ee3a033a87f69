#!/usr/bin/env bash
# fleet.sh: what ansible-playbook needs to drive the hosts over SSH.
#
#   fleet.sh keys        the controller's key pair ($E2E_STATE/ssh/id_ed25519), whose
#                        public half host.sh puts in each host's /root/.ssh/authorized_keys,
#                        and a known_hosts of the hosts' keys (all hosts share the rootfs's)
#   fleet.sh inventory   $E2E_STATE/ansible/inventory.yml: the running hosts as one node-pool
#                        group carrying the environment's bundle; prints its path
#
# This netns reaches the hosts over the bridge (10.77.0.254), so the controller
# is this machine: ANSIBLE_CONTROLLER is empty.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root

SSH_DIR=$E2E_STATE/ssh
ANSIBLE_DIR=$E2E_STATE/ansible

keys() {
	mkdir -p "$SSH_DIR"
	chmod 0700 "$SSH_DIR"
	[ -s "$SSH_DIR/id_ed25519" ] ||
		ssh-keygen -q -t ed25519 -N '' -C add2tkectl-e2e-controller -f "$SSH_DIR/id_ed25519"
	local key n
	key=$(cut -d' ' -f1,2 "$ROOTFS/etc/ssh/ssh_host_ed25519_key.pub")
	: >"$SSH_DIR/known_hosts.tmp"
	for n in 1 2 3; do echo "$(host_ip "$n") $key" >>"$SSH_DIR/known_hosts.tmp"; done
	mv "$SSH_DIR/known_hosts.tmp" "$SSH_DIR/known_hosts"
	# The collection as Ansible finds an installed one (the deb puts it under
	# /usr/share/ansible/collections): ANSIBLE_COLLECTIONS_PATH=$ANSIBLE_DIR/collections.
	mkdir -p "$ANSIBLE_DIR/collections/ansible_collections/add2tke"
	ln -sfn "$E2E_ROOT/packaging/ansible" "$ANSIBLE_DIR/collections/ansible_collections/add2tke/node"
}

# ssh_vars: the connection variables every inventory of the environment uses.
ssh_vars() {
	cat <<-YAML
		    ansible_user: root
		    ansible_ssh_private_key_file: $SSH_DIR/id_ed25519
		    ansible_ssh_common_args: -o UserKnownHostsFile=$SSH_DIR/known_hosts -o StrictHostKeyChecking=yes -o ConnectTimeout=10
		    ansible_python_interpreter: /usr/bin/python3
	YAML
}

inventory() {
	keys
	local bundle group h
	bundle=$(ls "$E2E_STATE"/bundle/add2tkectl-* 2>/dev/null | head -1 || true)
	[ -n "$bundle" ] || die "no bundle in $E2E_STATE/bundle: scripts/e2e/up makes it (pool.sh)"
	# One group per node pool; Ansible group names take no '-'.
	group=$(basename "$bundle" | sed 's/^add2tkectl-cls-[^-]*-//; s/-/_/g')
	mkdir -p "$ANSIBLE_DIR"
	{
		echo "# The running e2e hosts as one node pool (scripts/e2e/fleet.sh inventory)."
		echo "all:"
		echo "  vars:"
		ssh_vars
		echo "  children:"
		echo "    $group:"
		echo "      vars:"
		echo "        add2tkectl_binary: $(basename "$bundle")"
		echo "        add2tkectl_bundle_dir: $(dirname "$bundle")"
		echo "      hosts:"
		for h in $(cd "$E2E_STATE/hosts" 2>/dev/null && ls -d host* 2>/dev/null); do
			[ -n "$(host_pid "$h")" ] || continue
			echo "        $h: {ansible_host: $(host_ip "$(host_index "$h")")}"
		done
	} >"$ANSIBLE_DIR/inventory.yml.tmp"
	mv "$ANSIBLE_DIR/inventory.yml.tmp" "$ANSIBLE_DIR/inventory.yml"
	echo "$ANSIBLE_DIR/inventory.yml"
}

case ${1:-} in
keys) keys ;;
inventory) inventory ;;
*) die "usage: $0 keys|inventory" ;;
esac
