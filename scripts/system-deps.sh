#!/usr/bin/env bash
# Install the system packages the tests use (Debian's Chromium; PostgreSQL with --postgres)
# when they are missing and this machine lets us (root with apt). Safe to run repeatedly.
set -euo pipefail
want=()
[ -x /usr/bin/chromium ] || want+=(chromium)
if [ "${1:-}" = "--postgres" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  want+=(postgresql)
fi
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: missing ${want[*]} (install them with your package manager; browser tests need chromium)" >&2
  exit 0
fi
echo "installing ${want[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${want[@]}" >/dev/null
