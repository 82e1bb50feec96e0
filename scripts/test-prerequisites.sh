#!/usr/bin/env bash
# What the e2e tests need from the system, besides what npm installs: Debian's PgBouncer (the
# transaction-mode pooler suites) and Redis (rate-limit counters shared by two API processes).
# The tests start and stop their own servers on free ports; this only makes sure the binaries
# exist. As root on Debian/Ubuntu it installs the missing ones; otherwise it says what to run.
set -euo pipefail

missing=()
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v redis-server >/dev/null || missing+=(redis-server)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "The e2e tests need: ${missing[*]}. Install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}), then run the tests again." >&2
  exit 1
fi
echo "Installing from Debian for the e2e tests: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts packaged services; the tests start their own on free ports.
for service in "${missing[@]}"; do service "$service" stop >/dev/null 2>&1 || true; done
