#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
if [ -x /usr/bin/chromium ]; then
  say "Chromium: $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
else
  apt_install chromium fonts-noto-cjk
fi
