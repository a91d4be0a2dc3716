#!/usr/bin/env bash
# Installs what the tests need on a Debian machine: the real registry (docker-registry), skopeo
# and openssl from Debian's packages, then the node modules from the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in docker-registry:/usr/bin/docker-registry skopeo:/usr/bin/skopeo openssl:/usr/bin/openssl; do
  [ -x "${pair#*:}" ] || missing+=("${pair%%:*}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
