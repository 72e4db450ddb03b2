#!/usr/bin/env bash
# Start a throw-away Zabbix 6.0 (server + API frontend) on loopback for the e2e tests;
# `setup_zabbix.sh stop` stops both again (the packages and the database stay).
#
# Idempotent: packages, database, config files and processes are only created when
# missing, so running it twice (or from every test session) is cheap. Needs root and a
# PostgreSQL that trusts the `postgres` user on 127.0.0.1. Prints KEY=VALUE lines on
# stdout (last lines) that the test fixtures read, ZBX_STARTED=1 among them when this
# run started a process (so the caller knows to stop it); everything else goes to stderr.
#
# Tunables (environment): ZBX_E2E_DB, ZBX_E2E_WEB_PORT, ZBX_E2E_TRAPPER_PORT,
# ZBX_E2E_TZ (the server's local time zone, which {EVENT.DATE}/{EVENT.TIME} use),
# ZBX_E2E_STATE (directory for pid, log and config files), PGHOST, PGPORT.
set -euo pipefail

DB="${ZBX_E2E_DB:-zabbix_e2e}"
WEB_PORT="${ZBX_E2E_WEB_PORT:-18051}"
TRAPPER_PORT="${ZBX_E2E_TRAPPER_PORT:-10151}"
SERVER_TZ="${ZBX_E2E_TZ:-Asia/Tokyo}"
STATE="${ZBX_E2E_STATE:-/var/lib/slad-e2e-zabbix}"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER=postgres

API_URL="http://127.0.0.1:${WEB_PORT}/api_jsonrpc.php"
SERVER_CONF="$STATE/zabbix_server.conf"
# On Debian 12 `zabbix-sender` is a virtual package provided by `zabbix-agent`, so the
# check looks for the files each package brings, not for the package names.
PACKAGES=(zabbix-server-pgsql zabbix-frontend-php php-pgsql php-cli zabbix-sender)
NEEDED_FILES=(/usr/sbin/zabbix_server /usr/share/zabbix/api_jsonrpc.php /usr/bin/php
    /usr/bin/zabbix_sender /usr/share/zabbix-server-pgsql/schema.sql.gz)

log() { echo "setup_zabbix: $*" >&2; }

alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
    local f
    for f in "${NEEDED_FILES[@]}"; do
        [[ -e "$f" ]] || break
    done
    [[ -e "$f" ]] && php -m | grep -qx pgsql && return
    log "installing ${PACKAGES[*]}"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${PACKAGES[@]}" >&2
}

create_database() {
    if ! psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$DB'" | grep -q 1; then
        log "creating database $DB"
        psql -d postgres -qc "CREATE DATABASE \"$DB\" ENCODING 'UTF8' TEMPLATE template0" >&2
    fi
    if ! psql -d "$DB" -tAc "SELECT to_regclass('public.dbversion') IS NOT NULL" | grep -q t; then
        log "loading schema, images and data (about a minute)"
        # A failed load drops the database so the next run starts clean instead of
        # tripping over a half-built schema.
        if ! zcat /usr/share/zabbix-server-pgsql/{schema,images,data}.sql.gz \
            | psql -d "$DB" -q -v ON_ERROR_STOP=1 >/dev/null; then
            psql -d postgres -qc "DROP DATABASE \"$DB\"" >&2
            log "schema load failed"
            exit 1
        fi
    fi
}

write_configs() {
    mkdir -p "$STATE"
    cat >"$SERVER_CONF" <<EOF
ListenIP=127.0.0.1
ListenPort=$TRAPPER_PORT
LogFile=$STATE/zabbix_server.log
PidFile=$STATE/zabbix_server.pid
SocketDir=$STATE
DBHost=$PGHOST
DBPort=$PGPORT
DBName=$DB
DBUser=postgres
AllowRoot=1
Timeout=4
CacheUpdateFrequency=5
StartPollers=1
StartPollersUnreachable=1
StartPingers=0
StartDiscoverers=0
StartHTTPPollers=0
StartAlerters=2
StatsAllowedIP=127.0.0.1
EOF
    sed -e "s/^\$DB\['TYPE'\].*/\$DB['TYPE'] = 'POSTGRESQL';/" \
        -e "s/^\$DB\['SERVER'\].*/\$DB['SERVER'] = '$PGHOST';/" \
        -e "s/^\$DB\['PORT'\].*/\$DB['PORT'] = '$PGPORT';/" \
        -e "s/^\$DB\['DATABASE'\].*/\$DB['DATABASE'] = '$DB';/" \
        -e "s/^\$DB\['USER'\].*/\$DB['USER'] = 'postgres';/" \
        -e "s|^// \$ZBX_SERVER_PORT.*|\$ZBX_SERVER_PORT = '$TRAPPER_PORT';|" \
        -e "s|^// \$ZBX_SERVER\b.*|\$ZBX_SERVER = '127.0.0.1';|" \
        /usr/share/zabbix/conf/zabbix.conf.php.example >"$STATE/zabbix.conf.php"
    install -m 0644 "$STATE/zabbix.conf.php" /etc/zabbix/zabbix.conf.php
}

start_server() {
    alive "$STATE/zabbix_server.pid" && return
    STARTED=1
    log "starting zabbix_server (trapper on 127.0.0.1:$TRAPPER_PORT, TZ=$SERVER_TZ)"
    # The server daemonises itself and writes its pid file.
    # Webhooks go to loopback receivers: keep any proxy settings of the caller away.
    TZ="$SERVER_TZ" no_proxy="127.0.0.1,localhost" NO_PROXY="127.0.0.1,localhost" \
        zabbix_server -c "$SERVER_CONF"
}

start_frontend() {
    alive "$STATE/php.pid" && return
    STARTED=1
    log "starting the frontend on 127.0.0.1:$WEB_PORT"
    setsid nohup php -d memory_limit=256M -d max_execution_time=300 -d post_max_size=16M \
        -d date.timezone=UTC -S "127.0.0.1:$WEB_PORT" -t /usr/share/zabbix \
        >"$STATE/php.log" 2>&1 </dev/null &
    echo $! >"$STATE/php.pid"
}

wait_ready() {
    local i
    for i in $(seq 1 120); do
        if curl -fsS -m 2 -H 'Content-Type: application/json-rpc' -d \
            '{"jsonrpc":"2.0","method":"apiinfo.version","params":{},"id":1}' \
            "$API_URL" 2>/dev/null | grep -q '"result"' \
            && grep -q "server #0 started" "$STATE/zabbix_server.log" 2>/dev/null; then
            return
        fi
        sleep 0.5
    done
    log "Zabbix did not become ready; see $STATE/*.log"
    tail -n 20 "$STATE/zabbix_server.log" "$STATE/php.log" >&2 || true
    exit 1
}

stop_process() {
    local pidfile="$STATE/$1.pid" i
    alive "$pidfile" || return 0
    log "stopping $1"
    kill "$(cat "$pidfile")" 2>/dev/null || true
    for i in $(seq 1 60); do
        alive "$pidfile" || break
        sleep 0.5
    done
    alive "$pidfile" && { kill -9 "$(cat "$pidfile")" 2>/dev/null || true; }
    rm -f "$pidfile"
}

if [[ "${1:-}" == stop ]]; then
    stop_process zabbix_server
    stop_process php
    exit 0
fi

STARTED=0
started=$SECONDS
install_packages
create_database
write_configs
start_server
start_frontend
wait_ready
log "ready after $((SECONDS - started)) s"
cat <<EOF
ZBX_API_URL=$API_URL
ZBX_TRAPPER_PORT=$TRAPPER_PORT
ZBX_SERVER_CONF=$SERVER_CONF
ZBX_SERVER_TZ=$SERVER_TZ
ZBX_USER=Admin
ZBX_PASSWORD=zabbix
ZBX_STARTED=$STARTED
EOF
