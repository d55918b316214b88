#!/usr/bin/env bash
# Installs the system packages flowrt's tests and demo need, when they are missing
# and we are root. Usage: system-deps.sh [package...] (default: all of them).
set -euo pipefail
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(mosquitto chromium)
declare -A probe=([mosquitto]=/usr/sbin/mosquitto [chromium]=/usr/bin/chromium)
missing=()
for pkg in "${wanted[@]}"; do
  [ -x "${probe[$pkg]}" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing system packages: ${missing[*]} (run as root or install them)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
