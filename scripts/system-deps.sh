#!/usr/bin/env bash
# Install the system packages stepbot uses when they are missing and this machine lets us
# (root with apt). Safe to run repeatedly.
#   scripts/system-deps.sh             what the tests use: Debian's Chromium and a Japanese font
#   scripts/system-deps.sh --postgres  the same and PostgreSQL
#   scripts/system-deps.sh --run       only what the server uses: a Japanese font, which rich
#                                      menus drawn from a layout need for their labels
set -euo pipefail
mode="${1:-}"
want=()

has_japanese_font() {
  [ -n "${STEPBOT_FONT:-}" ] && [ -f "${STEPBOT_FONT}" ] && return 0
  ls /usr/share/fonts/opentype/ipafont-gothic/ipag*.ttf >/dev/null 2>&1 && return 0
  command -v fc-list >/dev/null && [ -n "$(fc-list :lang=ja file 2>/dev/null)" ]
}

has_japanese_font || want+=(fonts-ipafont-gothic)
if [ "$mode" != "--run" ]; then
  [ -x /usr/bin/chromium ] || want+=(chromium)
fi
if [ "$mode" = "--postgres" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  want+=(postgresql)
fi
[ ${#want[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "note: missing ${want[*]} (install them with your package manager; browser tests need" \
    "chromium, rich menus drawn from a layout need a Japanese font such as fonts-ipafont-gothic" \
    "or STEPBOT_FONT)" >&2
  exit 0
fi
echo "installing ${want[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${want[@]}" >/dev/null
