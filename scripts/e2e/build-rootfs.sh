#!/usr/bin/env bash
# Build the Debian minbase rootfs of the nspawn hosts, once, into
# $E2E_CACHE/rootfs/$E2E_HOST_SUITE (bookworm; bullseye and trixie for the
# host matrix). Hosts boot on an overlay of it, so it is never written after
# this.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need_root

# openssh-server: the fleet tests drive hosts with ansible-playbook over SSH.
# cloud-init: the first-boot tests; without a NoCloud seed its generator
# finds no datasource and leaves it disabled, so other hosts boot as before.
# locales: cloud-init's locale module (update-locale, locale-gen), as in
# Debian's cloud images; without it cloud-config.service fails.
PKGS=systemd,systemd-sysv,dbus,iproute2,ca-certificates,iptables,kmod,procps,util-linux,mount,curl,less,openssh-server,cloud-init,locales

# The marker holds the package list, so a rootfs of an older list is rebuilt.
if [ -x "$ROOTFS/lib/systemd/systemd" ] && [ "$(cat "$ROOTFS/.e2e-rootfs-done" 2>/dev/null)" = "$PKGS" ]; then
	log "host rootfs present in $ROOTFS"
	exit 0
fi
command -v mmdebstrap >/dev/null || die "mmdebstrap missing: run scripts/e2e/deps.sh"

MIRROR=${E2E_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${E2E_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}

tmp=$ROOTFS.tmp
rm -rf "$tmp"
mkdir -p "$(dirname "$ROOTFS")"
start=$SECONDS
log "building the host rootfs (Debian $HOST_SUITE minbase + systemd) with mmdebstrap, about 1 min"
mmdebstrap --quiet --variant=minbase --include="$PKGS" \
	--customize-hook='rm -f "$1/etc/machine-id" "$1/var/lib/dbus/machine-id"; : > "$1/etc/machine-id"' \
	--customize-hook='mkdir -p "$1/etc/systemd/system.conf.d" && printf "[Manager]\nDefaultTimeoutStopSec=10s\nDefaultTimeoutStartSec=30s\n" > "$1/etc/systemd/system.conf.d/e2e.conf"' \
	--customize-hook='chroot "$1" systemctl mask getty@tty1.service serial-getty@.service console-getty.service systemd-networkd-wait-online.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true' \
	--customize-hook='rm -rf "$1/var/cache/apt/archives/"*.deb "$1/var/lib/apt/lists/"*' \
	"$HOST_SUITE" "$tmp" \
	"deb $MIRROR $HOST_SUITE main" \
	"deb $MIRROR $HOST_SUITE-updates main" \
	"deb $SECURITY $HOST_SUITE-security main" >&2
echo "$PKGS" >"$tmp/.e2e-rootfs-done"
rm -rf "$ROOTFS"
mv "$tmp" "$ROOTFS"
log "built the host rootfs in $((SECONDS - start))s ($(du -sh "$ROOTFS" | cut -f1))"
