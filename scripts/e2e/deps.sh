#!/usr/bin/env bash
# Install the Debian packages the end-to-end environment needs. Idempotent:
# installs nothing when every command is already there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root

# command -> package
declare -A want=(
	[systemd-nspawn]=systemd-container
	[mmdebstrap]=mmdebstrap
	[ip]=iproute2
	[openssl]=openssl
	[iptables]=iptables
	[nsenter]=util-linux
	[curl]=curl
	[jq]=jq
	[xz]=xz-utils
	[dpkg-deb]=dpkg
	[make]=make
	[git]=git
	[ssh]=openssh-client
	[ssh-keygen]=openssh-client
	[ansible-playbook]=ansible-core
	[ansible-lint]=ansible-lint
	[rpm]=rpm
	[docker-registry]=docker-registry
	[skopeo]=skopeo
	[tinyproxy]=tinyproxy
)
missing=()
for c in "${!want[@]}"; do
	command -v "$c" >/dev/null 2>&1 || missing+=("${want[$c]}")
done
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u | grep .)
# mmdebstrap needs these to fetch packages and verify signatures.
dpkg -s debian-archive-keyring >/dev/null 2>&1 || missing+=(debian-archive-keyring)
dpkg -s ca-certificates >/dev/null 2>&1 || missing+=(ca-certificates)
if [ ${#missing[@]} -eq 0 ]; then
	log "dependencies present"
	exit 0
fi
log "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
log "dependencies installed"
