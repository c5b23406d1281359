-- Named queries about the daemon itself: status, version and the audit of admin commands.

-- name: server_version :one
select current_setting('server_version') as version

-- name: open_alert_count :one
select count(*) as open from conveyor.alerts where status <> 'resolved'

-- name: record_audit :exec
-- One row per state-changing admin command, refused ones included; a refused
-- one that the same user was refused within the last minute (command,
-- arguments and error alike) is counted on the newest such row instead.
with repeated as (
    update conveyor.admin_audit set repeats = repeats + 1, last_at = now()
    where id = (
        select a.id from conveyor.admin_audit a
        where not $6 and a.at > now() - interval '1 day' and a.last_at > now() - interval '1 minute'
          and not a.ok and a.uid is not distinct from $1 and a.command = $4
          and a.error_code is not distinct from $7 and a.args = $5::jsonb
        order by a.id desc
        limit 1)
    returning id
)
insert into conveyor.admin_audit (uid, pid, role, command, args, ok, error_code)
select $1, $2, $3, $4, $5::jsonb, $6, $7
where not exists (select 1 from repeated)

-- name: alert_counts :many
-- metrics: alerts by kind, status and severity.
select kind, status, severity, count(*)::bigint as alerts
from conveyor.alerts
group by kind, status, severity
order by kind, status, severity

-- name: handoff_tally_counts :many
-- metrics: handoffs so far by team and kind (migration 017 keeps the tallies).
select t.name as team, h.kind, h.handoffs
from conveyor.handoff_tallies h join conveyor.teams t on t.id = h.team_id
order by t.name, h.kind

-- name: last_scan_outcomes :many
-- metrics: each team's newest scan: when it finished, how long it took, and what it
-- changed (a figure that is not a number, written by hand, counts as 0).
select t.name as team, extract(epoch from r.finished_at)::float8 as finished_at,
       extract(epoch from r.finished_at - r.started_at)::float8 as seconds,
       coalesce(jsonb_path_query_first(r.outcome, '$.scanned ? (@.type() == "number")')::float8, 0) as scanned,
       coalesce(jsonb_path_query_first(r.outcome, '$.opened ? (@.type() == "number")')::float8, 0) as opened,
       coalesce(jsonb_path_query_first(r.outcome, '$.updated ? (@.type() == "number")')::float8, 0) as updated,
       coalesce(jsonb_path_query_first(r.outcome, '$.resolved ? (@.type() == "number")')::float8, 0) as resolved
from conveyor.teams t
join lateral (
    select started_at, finished_at, outcome from conveyor.scan_runs
    where team_id = t.id order by finished_at desc, id desc limit 1
) as r on true
order by t.name

-- name: audit_folded :one
-- metrics: refused admin attempts folded into an earlier audit row (migration 016).
select coalesce(sum(repeats - 1), 0)::bigint as folded from conveyor.admin_audit

-- name: xmin_horizon :one
-- status and metrics: the oldest snapshot or transaction that keeps vacuum
-- from reclaiming dead rows here (the queue's among them): a session of this
-- database (another role's only with pg_read_all_stats), a replication slot
-- or a prepared transaction. xids behind the current one; 0 when none.
select coalesce(max(age(h.xmin)), 0)::bigint as xids,
       (array_agg(h.seconds order by age(h.xmin) desc))[1]::float8 as seconds,
       (array_agg(h.holder order by age(h.xmin) desc))[1] as holder
from (
    select coalesce(a.backend_xmin, a.backend_xid) as xmin, extract(epoch from now() - a.xact_start) as seconds,
           format('pid %s (%s)', a.pid, coalesce(nullif(a.application_name, ''), a.usename::text)) as holder
    from pg_stat_activity as a
    where a.datname = current_database() and coalesce(a.backend_xmin, a.backend_xid) is not null
      and a.pid <> pg_backend_pid()
    union all
    select s.xmin, null, format('replication slot %s', s.slot_name) from pg_replication_slots as s where s.xmin is not null
    union all
    select p.transaction, extract(epoch from now() - p.prepared), format('prepared transaction %s', p.gid)
    from pg_prepared_xacts as p where p.database = current_database()
) as h

-- name: session_probe_notify :one
-- conveyord's start-up check that its connections keep their sessions (SessionProbe):
-- a notification on channel $1 with payload $2.
select pg_notify($1, $2)
