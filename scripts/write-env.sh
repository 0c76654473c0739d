#!/usr/bin/env bash
# Write .env from .env.example once, with freshly generated development secrets.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
if [ -f .env ]; then exit 0; fi
say "writing .env from .env.example (development values, new random secrets)"
gen() { .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))'; }
sed -e "s|^SECRET_KEY=.*|SECRET_KEY=$(gen)|" -e "s|^IDENTITY_HASH_KEY=.*|IDENTITY_HASH_KEY=$(gen)|" \
  -e "s|^PAYMENT_SANDBOX_SECRET=.*|PAYMENT_SANDBOX_SECRET=$(gen)|" \
  .env.example > .env
