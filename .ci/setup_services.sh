#!/usr/bin/env bash
# Installs and starts what the ecosystem tests need on a Debian machine (run as root):
#   - a local PostgreSQL server with a role and database for the Postgres destination tests
#   - Debian's Chromium for the `dlt pipeline pipedrive show` dashboard test
# Idempotent and quick when everything is already there (no apt-get at all then).
# Progress goes to stderr; the only line on stdout is the Postgres connection string, so .ci/run
# can capture it:
#   PIPEDRIVE_TEST_POSTGRES="$(bash .ci/setup_services.sh)"; export PIPEDRIVE_TEST_POSTGRES
# Overrides: PG_TEST_USER, PG_TEST_PASSWORD, PG_TEST_DB (defaults loader / loader / pipedrive_test).
set -euo pipefail

PG_USER="${PG_TEST_USER:-loader}"
PG_PASSWORD="${PG_TEST_PASSWORD:-loader}"
PG_DB="${PG_TEST_DB:-pipedrive_test}"

log() { echo "setup_services: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "must run as root (apt-get, pg_ctlcluster)"
    exit 1
fi

# 1. packages: only the missing ones, one apt-get update at most
missing=()
command -v pg_ctlcluster >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 \
    || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# fonts so the dashboard screenshot has readable text (chromium only recommends them)
[ -d /usr/share/fonts/truetype/dejavu ] || missing+=(fonts-dejavu-core)
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt_log="$(mktemp)"
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        >"$apt_log" 2>&1; then
        tail -n 40 "$apt_log" >&2
        log "apt-get failed"
        exit 1
    fi
    rm -f "$apt_log"
else
    log "postgresql and chromium already installed"
fi

# 2. a PostgreSQL cluster, running
pg_version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if ! pg_lsclusters -h | awk -v v="$pg_version" '$1 == v {found=1} END {exit !found}'; then
    log "creating cluster $pg_version/main"
    pg_createcluster "$pg_version" main >&2
fi
cluster="$(pg_lsclusters -h | awk -v v="$pg_version" '$1 == v {print $2; exit}')"
port="$(pg_lsclusters -h | awk -v v="$pg_version" -v c="$cluster" '$1 == v && $2 == c {print $3}')"
status="$(pg_lsclusters -h | awk -v v="$pg_version" -v c="$cluster" '$1 == v && $2 == c {print $4}')"
if [ "$status" != "online" ]; then
    log "starting cluster $pg_version/$cluster on port $port"
    # containers without systemd: pg_ctlcluster starts the server directly
    pg_ctlcluster "$pg_version" "$cluster" start >&2
fi
for _ in $(seq 1 50); do
    su postgres -c "pg_isready -q -p $port" && break
    sleep 0.2
done
su postgres -c "pg_isready -q -p $port" || { log "postgres did not come up on port $port"; exit 1; }

# 3. role and database (psql runs as the postgres superuser over the local socket)
psql_su() { su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -qAt $*"; }
if [ "$(psql_su "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'\"")" != "1" ]; then
    log "creating role $PG_USER"
    psql_su "-c \"CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'\"" >&2
else
    # a role left by an earlier run may have another password
    psql_su "-c \"ALTER ROLE $PG_USER LOGIN PASSWORD '$PG_PASSWORD'\"" >&2
fi
if [ "$(psql_su "-c \"SELECT 1 FROM pg_database WHERE datname = '$PG_DB'\"")" != "1" ]; then
    log "creating database $PG_DB"
    psql_su "-c \"CREATE DATABASE $PG_DB OWNER $PG_USER\"" >&2
fi

url="postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$port/$PG_DB"
# check the URL really works over TCP with password auth, as dlt will use it
if ! PGCONNECT_TIMEOUT=5 psql "$url" -qAt -c "SELECT 1" >/dev/null; then
    log "cannot connect with $url (pg_hba.conf must allow password auth on 127.0.0.1)"
    exit 1
fi
log "postgres ready: $url"
log "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown')"
echo "$url"
