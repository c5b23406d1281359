-- 013_attachment_scan.sql — the nightly attachment-risk scan.
--
-- conveyor.scan_team(team) scores every active account of a team on who does
-- its work, in one pass over the interactions, and brings the team's
-- attachment alerts up to date: a condition found opens an alert or updates
-- the unresolved one in place, a condition gone resolves it. It all commits
-- together with a row in scan_runs, or not at all. See docs/sql.md.

-- The advisory lock a scan of a team holds for its whole transaction: a
-- second scan of the same team is refused instead of queueing behind it,
-- and routing never waits for it (scans take no routing lock). Team ids are
-- folded into the lock's 32-bit key.
create function conveyor.scan_lock_key(p_team_id bigint)
returns integer
language sql
immutable
as $$ select (p_team_id % 2147483647)::integer $$;

-- When the scan of the team that is running now started (its transaction's
-- start), or null when none is running.
create function conveyor.running_scan_started_at(p_team_id bigint)
returns timestamptz
language sql
stable
set search_path = pg_catalog, pg_temp
as $$
    select min(a.xact_start)
    from pg_locks l
    join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'advisory' and l.granted and l.objsubid = 2
      and l.database = (select oid from pg_database where datname = current_database())
      and l.classid = 1396916558                      -- 'SCAN'
      and l.objid = conveyor.scan_lock_key(p_team_id)::oid
$$;

-- 'low' < 'medium' < 'high'
create function conveyor.severity_rank(p_severity text)
returns integer
language sql
immutable
as $$ select array_position(array['low', 'medium', 'high'], p_severity) $$;

create function conveyor.scan_team(
    p_team_id bigint,
    p_trigger text default 'manual',
    p_local_date date default null,
    p_job_id bigint default null
)
returns jsonb
language plpgsql
set search_path = pg_catalog, pg_temp
-- the one aggregate groups millions of (account, rep, contact) rows: in
-- memory rather than spilled to disk
set work_mem = '256MB'
as $$
declare
    t              conveyor.teams%rowtype;
    v_started      timestamptz := clock_timestamp();
    v_now          timestamptz := now();
    v_window_start timestamptz;
    v_backup_start timestamptz;
    v_running      timestamptz;
    v_scanned      bigint;
    v_not_scored   bigint;
    v_opened       bigint;
    v_updated      bigint;
    v_resolved     bigint;
    v_outcome      jsonb;
begin
    if p_trigger is null or p_trigger not in ('schedule', 'manual') then
        raise exception 'scan trigger must be schedule or manual, not %', coalesce(left(p_trigger, 40), 'null')
            using errcode = 'invalid_parameter_value';
    end if;
    select * into t from conveyor.teams where id = p_team_id;
    if not found then
        raise exception 'no team with id %', p_team_id using errcode = 'no_data_found';
    end if;
    if not pg_try_advisory_xact_lock(1396916558, conveyor.scan_lock_key(p_team_id)) then
        v_running := conveyor.running_scan_started_at(p_team_id);
        raise exception 'a scan of team "%" is already running (started %)', left(t.name, 100),
                coalesce(conveyor.iso8601(v_running), 'just now')
            using errcode = 'lock_not_available',
                  detail = coalesce(conveyor.iso8601(v_running), '');
    end if;

    v_window_start := v_now - make_interval(days => t.window_days);
    v_backup_start := v_now - make_interval(days => t.no_backup_days);

    -- The one pass over the interactions: counts per account, rep and
    -- contact as written. A statement of its own so that PostgreSQL can run
    -- it in parallel (nothing reads a temporary table in it). Future
    -- interactions are not counted.
    drop table if exists pg_temp.scan_tally;
    create temp table scan_tally on commit drop as
    select i.account_id, i.rep_id, i.contact,
           count(*) filter (where i.occurred_at >= v_window_start) as in_window,
           count(*) filter (where i.occurred_at >= v_backup_start) as in_backup,
           count(*) filter (where i.occurred_at >= v_window_start and i.occurred_at >= a.handed_off_at) as since_handoff
    from conveyor.interactions i
    join conveyor.accounts a on a.id = i.account_id
    where a.team_id = p_team_id and a.stage = 'active'
      and i.occurred_at >= least(v_window_start, v_backup_start) and i.occurred_at <= v_now
    group by 1, 2, 3;

    -- Every active account of the team with the figures of every rule.
    drop table if exists pg_temp.scan_figures;
    create temp table scan_figures on commit drop as
    with scope as (
        select a.id as account_id, a.hunter_id, a.handed_off_at, a.value
        from conveyor.accounts a
        where a.team_id = p_team_id and a.stage = 'active'
    ),
    -- contacts compared trimmed and case-folded; blank is none
    tally as (
        select account_id, rep_id, lower(nullif(btrim(contact), '')) as contact,
               min(btrim(contact)) as contact_name,
               sum(in_window) as in_window, sum(in_backup) as in_backup, sum(since_handoff) as since_handoff
        from scan_tally
        group by 1, 2, 3
    ),
    per_rep as (
        select account_id, rep_id, sum(in_window) as n, sum(in_backup) as n_backup, sum(since_handoff) as n_since
        from scan_tally
        group by 1, 2
    ),
    -- each account's people, most interactions first (one sort, not one per account)
    ranked as (
        select p.*, row_number() over (partition by p.account_id order by p.n desc, p.rep_id) as place
        from per_rep p
    ),
    per_account as (
        select p.account_id,
               sum(p.n) as interactions,
               count(*) filter (where p.n > 0) as people,
               min(p.rep_id) filter (where p.place = 1 and p.n > 0) as rep1,
               min(p.n) filter (where p.place = 1 and p.n > 0) as n1,
               min(p.rep_id) filter (where p.place = 2 and p.n > 0) as rep2,
               min(p.n) filter (where p.place = 2 and p.n > 0) as n2,
               min(p.rep_id) filter (where p.place = 3 and p.n > 0) as rep3,
               min(p.n) filter (where p.place = 3 and p.n > 0) as n3,
               sum(p.n * p.n) as squares,
               sum(p.n_backup) as backup_interactions,
               count(*) filter (where p.n_backup > 0) as backup_people,
               min(p.rep_id) filter (where p.n_backup > 0) as backup_rep_id,
               sum(p.n_since) as since_handoff
        from ranked p
        group by p.account_id
    ),
    hunters as (
        select p.account_id, p.n_since as hunter_since
        from per_rep p
        join scope s on s.account_id = p.account_id and s.hunter_id = p.rep_id
    ),
    named as (
        select * from tally where contact is not null and in_window > 0
    ),
    ranked_pairs as (
        select n.*,
               row_number() over (partition by n.account_id order by n.in_window desc, n.rep_id, n.contact) as place,
               sum(n.in_window) over (partition by n.account_id) as contact_interactions
        from named n
    ),
    contacts as (
        select account_id, count(*) as contacts
        from (select account_id, contact from named group by 1, 2) as c
        group by account_id
    ),
    pairs as (
        select rp.account_id, rp.contact_interactions, c.contacts,
               rp.rep_id as pair_rep_id, rp.contact_name as pair_contact, rp.in_window as pair_interactions
        from ranked_pairs rp
        join contacts c on c.account_id = rp.account_id
        where rp.place = 1
    ),
    margins as (
        select d.account_id, sum(d.margin) as margin
        from conveyor.deals d
        join scope s on s.account_id = d.account_id
        where d.closed_at > v_now - interval '1 year' and d.closed_at <= v_now
        group by d.account_id
    )
    select s.account_id, s.hunter_id, s.handed_off_at,
           coalesce(pa.interactions, 0) as interactions,
           coalesce(pa.people, 0) as people,
           pa.rep1, pa.n1, pa.rep2, pa.n2, pa.rep3, pa.n3,
           round(pa.squares::numeric / nullif(pa.interactions * pa.interactions, 0), 4) as concentration,
           coalesce(pa.backup_interactions, 0) as backup_interactions,
           coalesce(pa.backup_people, 0) as backup_people,
           pa.backup_rep_id,
           coalesce(pa.since_handoff, 0) as since_handoff,
           coalesce(h.hunter_since, 0) as hunter_since,
           coalesce(pr.contact_interactions, 0) as contact_interactions,
           coalesce(pr.contacts, 0) as contacts,
           pr.pair_rep_id, pr.pair_contact, coalesce(pr.pair_interactions, 0) as pair_interactions,
           coalesce(m.margin, s.value) as money,
           case when m.margin is null then 'account_value' else 'deals_12m' end as money_source,
           rank() over (order by coalesce(m.margin, s.value) desc) as money_rank,
           count(*) over () as accounts
    from scope s
    left join per_account pa on pa.account_id = s.account_id
    left join hunters h on h.account_id = s.account_id
    left join pairs pr on pr.account_id = s.account_id
    left join margins m on m.account_id = s.account_id;

    select count(*), count(*) filter (where interactions < t.min_interactions)
    into v_scanned, v_not_scored
    from scan_figures;

    -- What each rule finds, with the figures behind it.
    with flagged as (
        select f.*,
               case when f.money < t.low_value_threshold then 'low'
                    when f.money_rank <= ceil(f.accounts * t.high_severity_share) then 'high'
                    else 'medium' end as severity,
               extract(day from v_now - f.handed_off_at)::integer as days_since_handoff
        from scan_figures f
        where f.interactions >= t.min_interactions
    ),
    findings as (
        select f.*, k.kind, k.rep_id as alert_rep_id, k.rule
        from flagged f
        cross join lateral (values
            ('hunter_still_servicing', f.hunter_id,
             f.handed_off_at <= v_now - make_interval(days => t.hunter_grace_days)
                 and f.since_handoff > 0 and f.hunter_since >= t.hunter_share * f.since_handoff,
             jsonb_build_object('grace_days', t.hunter_grace_days, 'hunter_share', t.hunter_share)),
            ('single_threaded', f.rep1,
             f.n1 >= t.single_threaded_share * f.interactions,
             jsonb_build_object('share', t.single_threaded_share)),
            ('no_backup', f.backup_rep_id,
             f.backup_people = 1 and f.backup_interactions >= t.min_interactions,
             jsonb_build_object('days', t.no_backup_days)),
            ('bow_tie', f.pair_rep_id,
             f.contact_interactions >= t.bow_tie_min_interactions
                 and f.pair_interactions >= t.bow_tie_share * f.contact_interactions,
             jsonb_build_object('share', t.bow_tie_share, 'min_interactions', t.bow_tie_min_interactions))
        ) as k(kind, rep_id, holds, rule)
        where k.holds
    ),
    described as (
        select f.account_id, f.kind, f.alert_rep_id as rep_id, f.severity,
               jsonb_build_object(
                   'interactions', f.interactions,
                   'window_days', t.window_days,
                   'people', f.people,
                   'top_people', jsonb_path_query_array(jsonb_build_array(
                       jsonb_build_object('rep', r1.ref, 'interactions', f.n1, 'share', round(f.n1::numeric / f.interactions, 4)),
                       case when f.rep2 is not null then jsonb_build_object(
                           'rep', r2.ref, 'interactions', f.n2, 'share', round(f.n2::numeric / f.interactions, 4)) end,
                       case when f.rep3 is not null then jsonb_build_object(
                           'rep', r3.ref, 'interactions', f.n3, 'share', round(f.n3::numeric / f.interactions, 4)) end),
                       '$[*] ? (@.type() != "null")'),
                   'concentration', f.concentration,
                   'effective_people', round(1 / f.concentration, 2),
                   'money_at_stake', f.money,
                   'money_source', f.money_source,
                   'thresholds', f.rule || jsonb_build_object(
                       'min_interactions', t.min_interactions,
                       'low_value_threshold', t.low_value_threshold,
                       'high_severity_share', t.high_severity_share)
               )
               || case f.kind
                  when 'hunter_still_servicing' then jsonb_build_object(
                      'hunter', rh.ref,
                      'hunter_share_since_handoff', round(f.hunter_since::numeric / f.since_handoff, 4),
                      'interactions_since_handoff', f.since_handoff,
                      'days_since_handoff', f.days_since_handoff)
                  when 'no_backup' then jsonb_build_object(
                      'interactions_in_no_backup_days', f.backup_interactions)
                  when 'bow_tie' then jsonb_build_object(
                      'pair', jsonb_build_object(
                          'rep', rp.ref,
                          'contact', case when length(f.pair_contact) > 100
                                          then left(f.pair_contact, 100) || '…' else f.pair_contact end,
                          'interactions', f.pair_interactions,
                          'share', round(f.pair_interactions::numeric / f.contact_interactions, 4)),
                      'contact_interactions', f.contact_interactions,
                      'contacts', f.contacts)
                  else '{}'::jsonb
                  end as details
        from findings f
        left join conveyor.reps r1 on r1.id = f.rep1
        left join conveyor.reps r2 on r2.id = f.rep2
        left join conveyor.reps r3 on r3.id = f.rep3
        left join conveyor.reps rh on rh.id = f.hunter_id
        left join conveyor.reps rp on rp.id = f.pair_rep_id
    ),
    upserted as (
        insert into conveyor.alerts as al
            (team_id, account_id, rep_id, kind, severity, details, first_seen_at, last_seen_at)
        select p_team_id, d.account_id, d.rep_id, d.kind, d.severity, d.details, v_now, v_now
        from described d
        on conflict (team_id, coalesce(account_id, 0), kind) where status <> 'resolved'
        do update set
            last_seen_at = excluded.last_seen_at,
            details = excluded.details,
            rep_id = excluded.rep_id,
            severity = excluded.severity,
            -- a snooze ends at its date, or early when the risk grows
            status = case when al.status = 'snoozed'
                               and (al.snoozed_until <= v_now
                                    or conveyor.severity_rank(excluded.severity) > conveyor.severity_rank(al.severity))
                          then 'open' else al.status end,
            snoozed_until = case when al.status = 'snoozed'
                                      and (al.snoozed_until <= v_now
                                           or conveyor.severity_rank(excluded.severity) > conveyor.severity_rank(al.severity))
                                 then null else al.snoozed_until end
        returning (xmax = 0) as inserted
    )
    select count(*) filter (where inserted), count(*) filter (where not inserted)
    into v_opened, v_updated
    from upserted;

    -- Whatever this scan did not find again is resolved, saying why.
    with stale as (
        select al.id,
               case when a.team_id is distinct from al.team_id then 'account_moved'
                    when a.stage = 'churned' then 'account_churned'
                    when a.stage <> 'active' then 'account_inactive'
                    when f.interactions < t.min_interactions then 'not_scored'
                    else 'cleared' end as reason
        from conveyor.alerts al
        left join conveyor.accounts a on a.id = al.account_id
        left join scan_figures f on f.account_id = al.account_id
        where al.team_id = p_team_id
          and al.kind in ('hunter_still_servicing', 'single_threaded', 'no_backup', 'bow_tie')
          and al.status <> 'resolved'
          and al.last_seen_at < v_now
    ),
    resolved as (
        update conveyor.alerts al
        set status = 'resolved', resolved_at = v_now, snoozed_until = null,
            details = al.details || jsonb_build_object('resolution', s.reason)
        from stale s
        where al.id = s.id
        returning 1
    )
    select count(*) into v_resolved from resolved;

    v_outcome := jsonb_build_object(
        'scanned', v_scanned,
        'not_scored', v_not_scored,
        'opened', v_opened,
        'updated', v_updated,
        'resolved', v_resolved,
        'duration_ms', round(extract(epoch from clock_timestamp() - v_started) * 1000)::bigint);

    insert into conveyor.scan_runs (team_id, job_id, trigger, local_date, started_at, outcome)
    values (p_team_id, p_job_id, p_trigger, p_local_date, v_started, v_outcome);

    return v_outcome;
end
$$;

comment on function conveyor.scan_team(bigint, text, date, bigint) is
    'scores a team''s active accounts and opens, updates and resolves its attachment alerts; returns the outcome';

-- Alert events: published for alerts opened, and for updates that change an
-- alert's status or severity (acknowledged, snoozed, unsnoozed, resolved, a
-- risk that grew or shrank), not for a rescan that only saw it again. One
-- notifier for both triggers: the ids in order, at most 50, else the count.
create function conveyor.notify_alerts(p_ids bigint[])
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    v_count integer := coalesce(cardinality(p_ids), 0);
begin
    if v_count between 1 and 50 then
        perform pg_notify('conveyor_events', json_build_object('type', 'alerts', 'ids', p_ids)::text);
    elsif v_count > 50 then
        perform pg_notify('conveyor_events', json_build_object('type', 'alerts', 'count', v_count)::text);
    end if;
end
$$;

create or replace function conveyor.alerts_publish()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    perform conveyor.notify_alerts((select array_agg(id order by id) from new_rows));
    return null;
end
$$;

create function conveyor.alerts_publish_changed()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    perform conveyor.notify_alerts((
        select array_agg(n.id order by n.id)
        from new_rows n
        join old_rows o on o.id = n.id
        where n.status is distinct from o.status or n.severity is distinct from o.severity));
    return null;
end
$$;

drop trigger alerts_publish_updated on conveyor.alerts;

create trigger alerts_publish_updated
    after update on conveyor.alerts
    referencing old table as old_rows new table as new_rows
    for each statement execute function conveyor.alerts_publish_changed();

-- A team's scan and severity settings as one object, for team.list.
create function conveyor.team_settings(t conveyor.teams)
returns jsonb
language sql
stable
as $$
    select jsonb_build_object(
        'window_days', t.window_days, 'min_interactions', t.min_interactions,
        'hunter_grace_days', t.hunter_grace_days, 'hunter_share', t.hunter_share,
        'single_threaded_share', t.single_threaded_share, 'no_backup_days', t.no_backup_days,
        'bow_tie_share', t.bow_tie_share, 'bow_tie_min_interactions', t.bow_tie_min_interactions,
        'high_severity_share', t.high_severity_share, 'low_value_threshold', t.low_value_threshold)
$$;
