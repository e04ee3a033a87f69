#!/usr/bin/env bash
# Installs the Debian packages the unit tests and the package checks need (idempotent).
set -euo pipefail
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
[ -x /usr/bin/time ] || need+=(time)
command -v systemd-analyze >/dev/null || need+=(systemd)   # unit files are checked with systemd-analyze verify
command -v iptables-restore >/dev/null || need+=(iptables) # uninstall chain test in a network namespace
command -v rpm >/dev/null || need+=(rpm)                   # scripts/check-packages.sh reads the rpms with rpm -qp
command -v promtool >/dev/null || need+=(prometheus)      # pkg/metrics checks its textfile with promtool check metrics
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
