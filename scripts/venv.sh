#!/usr/bin/env bash
# Create .venv with a Python >= 3.12 (Django 6 needs it) and install the pinned requirements.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; }

if [ ! -x .venv/bin/python ] || ! python_ok .venv/bin/python; then
  candidate=""
  for p in ${PYTHON:-} python3.13 python3.12 "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3 /usr/local/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && python_ok "$p"; then candidate=$(command -v "$p"); break; fi
  done
  if [ -z "$candidate" ]; then
    apt_install python3.12 python3.12-venv 2>/dev/null || true
    command -v python3.12 >/dev/null && candidate=$(command -v python3.12)
  fi
  [ -n "$candidate" ] || die "no Python >= 3.12 found; set PYTHON=/path/to/python3.12"
  say "creating .venv with $candidate ($("$candidate" --version))"
  rm -rf .venv
  "$candidate" -m venv .venv
fi
say "installing pinned requirements into .venv"
.venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt -c constraints.txt 2>&1 \
  | grep -v "^WARNING: Location" || true
.venv/bin/python -c 'import django, channels, celery' || die "requirements did not install"
touch .venv/.installed
