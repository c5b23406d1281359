# Sourced by scripts/demo and scripts/bench: starts a throwaway PostgreSQL in
# a temporary folder (Unix socket only) and stops it on exit. As root, the
# server runs as the postgres user. Sets PG_TEMP_DIR and CONVEYOR_DATABASE_URL.

pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pg_bin/initdb" ] || { echo "PostgreSQL server not installed (apt-get install postgresql)" >&2; exit 1; }

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

PG_TEMP_DIR=$(mktemp -d /tmp/conveyor-pg.XXXXXX)
chmod 755 "$PG_TEMP_DIR"
[ "$(id -u)" = 0 ] && chown postgres: "$PG_TEMP_DIR"
pg_temp_stop() {
    as_postgres "$pg_bin/pg_ctl" -D "$PG_TEMP_DIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$PG_TEMP_DIR"
}
trap pg_temp_stop EXIT
as_postgres "$pg_bin/initdb" -D "$PG_TEMP_DIR/data" -U postgres -A trust --no-sync >/dev/null
as_postgres "$pg_bin/pg_ctl" -D "$PG_TEMP_DIR/data" -l "$PG_TEMP_DIR/log" -w \
    -o "-k $PG_TEMP_DIR -c listen_addresses='' ${PG_TEMP_OPTIONS:-}" start >/dev/null
as_postgres "$pg_bin/createdb" -h "$PG_TEMP_DIR" -U postgres conveyor
export CONVEYOR_DATABASE_URL="host=$PG_TEMP_DIR dbname=conveyor user=postgres"
