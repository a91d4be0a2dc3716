#!/usr/bin/env bash
# Installs what the tests need on a Debian machine, from Debian's packages: the real registry
# (docker-registry), skopeo, openssl, and a real S3 server for the registry-on-S3 tests (Ceph's
# RADOS gateway: ceph-mon, ceph-osd, radosgw, which bring radosgw-admin; see
# test/helpers/s3-server.ts), then the node modules from the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pair in docker-registry:/usr/bin/docker-registry skopeo:/usr/bin/skopeo openssl:/usr/bin/openssl \
  ceph-mon:/usr/bin/ceph-mon ceph-osd:/usr/bin/ceph-osd radosgw:/usr/bin/radosgw radosgw:/usr/bin/radosgw-admin; do
  [ -x "${pair#*:}" ] || missing+=("${pair%%:*}")
done
# radosgw-admin comes with radosgw's dependencies: ask for each package once.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | awk 'NF && !seen[$0]++')
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
npm ci --no-audit --no-fund
