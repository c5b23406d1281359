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
