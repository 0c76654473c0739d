#!/usr/bin/env bash
# Make sure PostgreSQL with PostGIS, GDAL/GEOS and Redis are there for DATABASE_URL and REDIS_URL.
#
# Servers that already answer at the configured URLs are used as they are. Otherwise what is
# missing is installed with apt-get and a project-local instance is started with its data under
# .services/ (git-ignored). Idempotent: a second run finds everything in place and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
load_env

DATABASE_URL=${DATABASE_URL:-postgis://postgres@127.0.0.1:5432/mingchu}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
SERVICES_DIR=$PWD/.services
mkdir -p "$SERVICES_DIR"

# Split the URLs with Python rather than by hand (user, password, host, port, database).
eval "$(.venv/bin/python - "$DATABASE_URL" "$REDIS_URL" <<'PY'
import shlex, sys
from urllib.parse import unquote, urlsplit
db, rd = urlsplit(sys.argv[1]), urlsplit(sys.argv[2])
out = {
    "PGHOST": db.hostname or "127.0.0.1", "PGPORT": db.port or 5432,
    "PGUSER": unquote(db.username or "postgres"), "PGPASSWORD": unquote(db.password or ""),
    "PGDATABASE": db.path.lstrip("/") or "mingchu",
    "REDIS_HOST": rd.hostname or "127.0.0.1", "REDIS_PORT": rd.port or 6379,
}
for k, v in out.items():
    print(f"{k}={shlex.quote(str(v))}")
PY
)"
export PGHOST PGPORT PGUSER PGPASSWORD
export PGOPTIONS="-c client_min_messages=warning"  # no NOTICE chatter from idempotent DDL

is_local() { [[ "$1" == "localhost" || "$1" == 127.* || "$1" == "::1" ]]; }

# --- Native libraries GeoDjango loads (GDAL, GEOS, PROJ) ---------------------------------
libs=$(ldconfig -p)  # captured first: `ldconfig -p | grep -q` dies of SIGPIPE under pipefail
if grep -q 'libgdal\.so' <<<"$libs" && grep -q 'libgeos_c\.so' <<<"$libs"; then
  say "GDAL and GEOS: present"
else
  apt_install gdal-bin
fi

# --- PostgreSQL ----------------------------------------------------------------------------
pg_bin() {
  # The newest installed server binaries (initdb, pg_ctl live outside PATH on Debian).
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
pg_answers() { command -v pg_isready >/dev/null && pg_isready -q -h "$PGHOST" -p "$PGPORT" -t 3; }

if pg_answers; then
  say "PostgreSQL: answering at $PGHOST:$PGPORT"
else
  is_local "$PGHOST" || die "PostgreSQL does not answer at $PGHOST:$PGPORT (not local: start it there)"
  [ -n "$(pg_bin)" ] || apt_install postgresql postgresql-client
  bin=$(pg_bin)
  data=$SERVICES_DIR/postgres
  if [ ! -s "$data/PG_VERSION" ]; then
    say "PostgreSQL: initialising a project-local cluster in $data"
    mkdir -p "$data"
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$data"; fi
    as_pg=(); [ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
    "${as_pg[@]}" "$bin/initdb" -D "$data" -U "$PGUSER" --auth=trust -E UTF8 >/dev/null
  fi
  say "PostgreSQL: starting the project-local cluster on port $PGPORT"
  as_pg=(); [ "$(id -u)" = 0 ] && as_pg=(runuser -u postgres --)
  "${as_pg[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w \
    -o "-p $PGPORT -k $data -c listen_addresses=127.0.0.1" start >/dev/null
  pg_answers || die "PostgreSQL did not start: see $data/server.log"
fi

psql_q() { psql -X -v ON_ERROR_STOP=1 -qAt -d "${2:-postgres}" -c "$1"; }

major=$(psql_q "SHOW server_version_num" | cut -c1-2)
postgis_pkg="postgresql-$major-postgis-3"
if is_local "$PGHOST" && command -v dpkg-query >/dev/null; then
  # Ask the package manager, not pg_available_extensions: the SQL scripts package can outlive
  # the library (an extension that is "available" but cannot load).
  if dpkg-query -W -f='${Status}' "$postgis_pkg" 2>/dev/null | grep -q "ok installed"; then
    say "PostGIS: $postgis_pkg installed"
  else
    apt_install "$postgis_pkg"
  fi
elif [ -z "$(psql_q "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")" ]; then
  die "PostGIS is not installed on the server at $PGHOST (install it there)"
fi

if [ -z "$(psql_q "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'")" ]; then
  say "creating database $PGDATABASE"
  psql_q "CREATE DATABASE \"$PGDATABASE\""
fi
psql_q "CREATE EXTENSION IF NOT EXISTS postgis" "$PGDATABASE"
say "database $PGDATABASE: $(psql_q "SELECT 'PostGIS ' || postgis_lib_version()" "$PGDATABASE")"

# --- Redis ---------------------------------------------------------------------------------
redis_answers() {
  .venv/bin/python - "$REDIS_URL" <<'PY' 2>/dev/null
import sys, redis
redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2, socket_timeout=2).ping()
PY
}
if redis_answers; then
  say "Redis: answering at $REDIS_HOST:$REDIS_PORT"
else
  is_local "$REDIS_HOST" || die "Redis does not answer at $REDIS_HOST:$REDIS_PORT (not local: start it there)"
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p "$SERVICES_DIR/redis"
  say "Redis: starting a project-local server on port $REDIS_PORT"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$SERVICES_DIR/redis" --logfile "$SERVICES_DIR/redis/redis.log" \
    --pidfile "$SERVICES_DIR/redis/redis.pid"
  for _ in $(seq 1 50); do redis_answers && break; sleep 0.1; done
  redis_answers || die "Redis did not start: see $SERVICES_DIR/redis/redis.log"
fi

# --- Tools the build needs: gettext (compilemessages), Node.js and npm (front-end libraries) --
command -v msgfmt >/dev/null || apt_install gettext
command -v npm >/dev/null || apt_install nodejs npm
say "services ready"
