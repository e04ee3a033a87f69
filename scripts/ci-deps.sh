#!/usr/bin/env bash
# Installs the Debian packages the unit tests need (idempotent).
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
[ -x /usr/bin/time ] || need+=(time)
command -v systemd-analyze >/dev/null || need+=(systemd)   # unit files are checked with systemd-analyze verify
command -v iptables-restore >/dev/null || need+=(iptables) # uninstall chain test in a network namespace
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
