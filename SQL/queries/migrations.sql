-- Named queries of the migrator (conveyord migrate, and every daemon at start).

-- name: lock_migrations :one
-- Session advisory lock: one migrator at a time across hosts.
select pg_advisory_lock($1)

-- name: unlock_migrations :one
select pg_advisory_unlock($1)

-- name: create_conveyor_schema :exec
create schema if not exists conveyor

-- name: create_schema_migrations :exec
create table if not exists conveyor.schema_migrations (
    version integer primary key,
    file text not null,
    checksum text not null,
    applied_at timestamptz not null default now()
)

-- name: record_migration :exec
insert into conveyor.schema_migrations (version, file, checksum) values ($1, $2, $3)

-- name: schema_migrations_present :one
select to_regclass('conveyor.schema_migrations') is not null as present

-- name: applied_migrations :many
select version, checksum from conveyor.schema_migrations

-- name: migration_lock_timeout :one
-- For the rest of a migration's transaction: how long ($1, e.g. '2000ms')
-- any one lock it needs may be waited for before the migration gives way.
select set_config('lock_timeout', $1, true)
