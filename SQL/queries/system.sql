-- Named queries about the daemon itself: status, version and the audit of admin commands.

-- name: server_version :one
select current_setting('server_version') as version

-- name: open_alert_count :one
select count(*) as open from conveyor.alerts where status <> 'resolved'

-- name: record_audit :exec
-- One row per state-changing admin command, refused ones included.
insert into conveyor.admin_audit (uid, pid, role, command, args, ok, error_code)
values ($1, $2, $3, $4, $5::jsonb, $6, $7)
