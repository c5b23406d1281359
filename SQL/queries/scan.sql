-- Named queries of the attachment-risk scan (conveyor.scan_team, migrations 013 and 020).

-- name: scan_on_one_core :one
-- For the rest of the scan's transaction: no parallel workers. On a machine
-- of few cores they took every core, and handoffs and `status` waited
-- behind the scan, for a gain within the noise (the pass over a team's
-- interactions is clustered by account: its final aggregate rehashes every
-- group). Measured with `conveyor-bench scan`.
select set_config('max_parallel_workers_per_gather', '0', true)

-- name: scan_team :one
-- $1 team id, $2 trigger (schedule, manual), $3 scheduled local date, $4 job id.
select conveyor.scan_team($1, $2, $3::date, $4)::text as outcome

-- name: running_scan :one
select conveyor.running_scan_started_at($1) as started_at

-- name: attachment_digest :one
-- The digest of the scan that just ran in this transaction ($1 team id, $2
-- its outcome): alerts it opened and resolved (now() is the scan's
-- transaction time), how many stay open, and the accounts with the most
-- money at stake among the unresolved, with their figures.
with team_alerts as (
    select al.id, a.ref as account, al.kind, al.severity, al.status, r.ref as rep,
           al.first_seen_at, al.resolved_at, al.details,
           (al.details ->> 'money_at_stake')::numeric as money
    from conveyor.alerts al
    left join conveyor.accounts a on a.id = al.account_id
    left join conveyor.reps r on r.id = al.rep_id
    where al.team_id = $1
      and al.kind in ('hunter_still_servicing', 'single_threaded', 'no_backup', 'bow_tie')
      and (al.status <> 'resolved' or al.resolved_at = now())
),
item as (
    select ta.*, jsonb_build_object(
               'id', ta.id, 'account', ta.account, 'kind', ta.kind, 'severity', ta.severity,
               'status', ta.status, 'rep', ta.rep, 'money_at_stake', ta.money,
               'top_share', ta.details -> 'top_people' -> 0 -> 'share') as brief
    from team_alerts ta
)
select jsonb_build_object(
    'type', 'attachment_digest',
    'team', (select name from conveyor.teams where id = $1),
    'scanned_at', conveyor.iso8601(now()),
    'outcome', $2::jsonb,
    'opened', jsonb_build_object(
        'count', (select count(*) from item where first_seen_at = now()),
        'alerts', coalesce((select jsonb_agg(brief order by money desc nulls last, id)
                            from (select * from item where first_seen_at = now()
                                  order by money desc nulls last, id limit 20) o), '[]')),
    'still_open', jsonb_build_object(
        'count', (select count(*) from item where status <> 'resolved' and first_seen_at < now())),
    'resolved', jsonb_build_object(
        'count', (select count(*) from item where status = 'resolved'),
        'alerts', coalesce((select jsonb_agg(brief || jsonb_build_object('resolution', details -> 'resolution')
                                             order by money desc nulls last, id)
                            from (select * from item where status = 'resolved'
                                  order by money desc nulls last, id limit 20) r), '[]')),
    'top_accounts', coalesce((
        select jsonb_agg(jsonb_build_object('account', account, 'money_at_stake', money, 'alerts', alerts)
                         order by money desc nulls last, account)
        from (
            select account, max(money) as money,
                   jsonb_agg(jsonb_build_object('id', id, 'kind', kind, 'severity', severity,
                                                'status', status, 'rep', rep, 'details', details)
                             order by kind) as alerts
            from item
            where status <> 'resolved'
            group by account
            order by max(money) desc nulls last, account
            limit 10
        ) top), '[]')
)::text as digest
