-- Named queries behind alert.list, alert.ack and alert.snooze, and the end of snoozes.

-- name: list_alerts :many
-- Unresolved alerts (or those with status $2), most money at stake first,
-- then by id; filters: $1 team name, $4 kind, $5 severity, $6 rep ref; $3
-- one alert by id (any status). Pages: $7 rows, after the row whose money
-- and id are $8 and $9 (alerts without money at stake sort last).
with listed as (
    select al.*, coalesce((al.details ->> 'money_at_stake')::numeric, '-infinity') as money
    from conveyor.alerts al
    where ($3::bigint is not null or case when $2::text is null then al.status <> 'resolved' else al.status = $2 end)
      and ($3::bigint is null or al.id = $3)
      and ($4::text is null or al.kind = $4)
      and ($5::text is null or al.severity = $5)
)
select al.id, t.name as team, a.ref as account, r.ref as rep, al.kind, al.severity, al.status,
       al.first_seen_at, al.last_seen_at, al.resolved_at, al.snoozed_until, al.details::text as details,
       case when al.money = '-infinity' then null else al.money::text end as money_at_stake
from listed al
join conveyor.teams t on t.id = al.team_id
left join conveyor.accounts a on a.id = al.account_id
left join conveyor.reps r on r.id = al.rep_id
where ($1::text is null or t.name = $1)
  and ($6::text is null or r.ref = $6)
  and ($8::numeric is null or al.money < $8 or (al.money = $8 and al.id > $9::bigint))
order by al.money desc, al.id
limit $7

-- name: acknowledge_alert :optional
update conveyor.alerts set status = 'acknowledged', acknowledged_at = now(), snoozed_until = null
where id = $1 and status in ('open', 'snoozed')
returning id

-- name: snooze_alert :optional
update conveyor.alerts set status = 'snoozed', snoozed_until = $2
where id = $1 and status in ('open', 'acknowledged', 'snoozed')
returning id

-- name: alert_status :optional
select status from conveyor.alerts where id = $1

-- name: wake_snoozed_alerts :one
-- Snoozes whose date passed end: the alert is open again (the scan keeps
-- it until its condition clears).
with woken as (
    update conveyor.alerts set status = 'open', snoozed_until = null
    where status = 'snoozed' and snoozed_until <= now()
    returning 1
)
select count(*)::int as woken from woken

-- name: alert_team :optional
-- The name of the team of alert $1 (no row: no such alert).
select t.name from conveyor.alerts a join conveyor.teams t on t.id = a.team_id where a.id = $1
