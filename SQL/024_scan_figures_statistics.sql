-- 024_scan_figures_statistics.sql — the scan's snapshot of figures gets a
-- key and statistics before anything is joined to it.
--
-- Why: conveyor.scan_team (020) computes every active account's figures into
-- the temporary table scan_figures, then joins conveyor.alerts to it twice
-- (the upsert of what the scan found, the resolve of what it did not).
-- Autovacuum never analyzes a temporary table, so those joins were planned
-- with no statistics and no index on a table of one row per account. When
-- the planner expects one stale alert, a nested loop that reads all of
-- scan_figures once per alert costs it hardly more than a hash join
-- (EXPLAIN, 180,000 accounts: 30,300 against 28,600), and it takes 8 ms
-- per alert: 13 minutes for 92,000 alerts. One full-size bench run did
-- stall, CPU-bound, in the alert statements of its fifth scan for more
-- than 17 minutes (its plan was not captured; that loop is the suspect).
-- With a primary key on account_id, every join of the alert statements
-- has an index on its inner side, whatever the estimates (the same join of
-- 92,000 alerts: 0.12 s), and ANALYZE makes the estimates right; both
-- together cost under 0.5 s in a scan of 180,000 accounts. The function
-- also plans each statement for the values of the scan at hand
-- (plan_cache_mode), not a generic plan that the connection cached from
-- earlier scans.
--
-- The rules, outcome and alerts are those of 020, unchanged.

create or replace function conveyor.scan_team(
    p_team_id bigint,
    p_trigger text default 'manual',
    p_local_date date default null,
    p_job_id bigint default null
)
returns jsonb
language plpgsql
set search_path = pg_catalog, pg_temp
-- the aggregates group millions of (account, rep, contact) rows: in memory
-- rather than spilled to disk
set work_mem = '256MB'
-- compiling these few large statements took seconds and saved none
set jit = off
-- each statement planned for this scan's values, never a generic plan
-- cached from earlier scans on the same connection
set plan_cache_mode = force_custom_plan
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
    v_thresholds   jsonb;
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
    -- the settings that applied, for each kind's details
    v_thresholds := (
        select jsonb_object_agg(kind, rule || jsonb_build_object(
                   'min_interactions', t.min_interactions,
                   'low_value_threshold', t.low_value_threshold,
                   'high_severity_share', t.high_severity_share))
        from (values
            ('hunter_still_servicing', jsonb_build_object('grace_days', t.hunter_grace_days, 'hunter_share', t.hunter_share)),
            ('single_threaded', jsonb_build_object('share', t.single_threaded_share)),
            ('no_backup', jsonb_build_object('days', t.no_backup_days)),
            ('bow_tie', jsonb_build_object('share', t.bow_tie_share, 'bow_tie_min_interactions', t.bow_tie_min_interactions))
        ) as k(kind, rule));

    -- Every active account of the team with the figures of every rule,
    -- from one pass over the interactions (future ones are not counted):
    -- counts per account, rep and client contact (trimmed and case-folded,
    -- blank is none), then per account and rep. A bow tie's contact is
    -- named here, in the snapshot its counts come from.
    drop table if exists pg_temp.scan_figures;
    create temp table scan_figures on commit drop as
    with tally as (
        select i.account_id, i.rep_id, lower(nullif(btrim(i.contact), '')) as contact_key,
               i.rep_id = min(a.hunter_id) as hunter,
               (count(*) filter (where i.occurred_at >= v_window_start))::integer as in_window,
               (count(*) filter (where i.occurred_at >= v_backup_start))::integer as in_backup,
               (count(*) filter (where i.occurred_at >= v_window_start and i.occurred_at >= a.handed_off_at))::integer as since_handoff
        from conveyor.interactions i
        join conveyor.accounts a on a.id = i.account_id
        where a.team_id = p_team_id and a.stage = 'active'
          and i.occurred_at >= least(v_window_start, v_backup_start) and i.occurred_at <= v_now
        group by 1, 2, 3
    ),
    people as (
        select account_id, rep_id, bool_or(hunter) as hunter,
               sum(in_window)::integer as n, sum(in_backup)::integer as n_backup, sum(since_handoff)::integer as n_since
        from tally
        group by 1, 2
    ),
    pairs as (
        select account_id, rep_id, contact_key, in_window as n
        from tally
        where in_window > 0 and contact_key is not null
    ),
    per_account as (
        select p.account_id,
               sum(p.n) as interactions,
               count(*) filter (where p.n > 0) as people,
               sum(p.n::bigint * p.n) as squares,
               sum(p.n_backup) as backup_interactions,
               count(*) filter (where p.n_backup > 0) as backup_people,
               min(p.rep_id) filter (where p.n_backup > 0) as backup_rep_id,
               sum(p.n_since) as since_handoff,
               coalesce(sum(p.n_since) filter (where p.hunter), 0) as hunter_since
        from people p
        group by p.account_id
    ),
    -- each account's three people with the most interactions (one sort, not one per account)
    ranked as (
        select p.account_id, p.rep_id, p.n,
               row_number() over (partition by p.account_id order by p.n desc, p.rep_id) as place
        from people p
        where p.n > 0
    ),
    top_people as (
        select account_id,
               min(rep_id) filter (where place = 1) as rep1, min(n) filter (where place = 1) as n1,
               min(rep_id) filter (where place = 2) as rep2, min(n) filter (where place = 2) as n2,
               min(rep_id) filter (where place = 3) as rep3, min(n) filter (where place = 3) as n3
        from ranked
        where place <= 3
        group by account_id
    ),
    contacts as (
        select account_id, sum(n)::integer as contact_interactions, count(*)::integer as contacts
        from (select account_id, contact_key, sum(n) as n from pairs group by 1, 2) as c
        group by account_id
    ),
    top_pairs as (
        select distinct on (account_id) account_id, rep_id as pair_rep_id, contact_key as pair_contact_key,
               n as pair_interactions
        from pairs
        order by account_id, n desc, rep_id, contact_key
    ),
    margins as (
        select d.account_id, sum(d.margin) as margin
        from conveyor.deals d
        join conveyor.accounts a on a.id = d.account_id
        where a.team_id = p_team_id and a.stage = 'active'
          and d.closed_at > v_now - interval '1 year' and d.closed_at <= v_now
        group by d.account_id
    )
    select a.id as account_id, a.hunter_id, a.handed_off_at,
           coalesce(pa.interactions, 0) as interactions,
           coalesce(pa.people, 0) as people,
           tp.rep1, tp.n1, tp.rep2, tp.n2, tp.rep3, tp.n3,
           round(pa.squares::numeric / nullif(pa.interactions::bigint * pa.interactions, 0), 4) as concentration,
           coalesce(pa.backup_interactions, 0) as backup_interactions,
           coalesce(pa.backup_people, 0) as backup_people,
           pa.backup_rep_id,
           coalesce(pa.since_handoff, 0) as since_handoff,
           coalesce(pa.hunter_since, 0) as hunter_since,
           coalesce(c.contact_interactions, 0) as contact_interactions,
           coalesce(c.contacts, 0) as contacts,
           pr.pair_rep_id, coalesce(pr.pair_interactions, 0) as pair_interactions,
           case when c.contact_interactions >= t.bow_tie_min_interactions
                     and pr.pair_interactions >= t.bow_tie_share * c.contact_interactions then (
               -- as written in the window: the first, trimmed, in the database's sort order
               select min(btrim(i.contact))
               from conveyor.interactions i
               where i.account_id = a.id and i.rep_id = pr.pair_rep_id
                 and lower(nullif(btrim(i.contact), '')) = pr.pair_contact_key
                 and i.occurred_at >= v_window_start and i.occurred_at <= v_now)
           end as pair_contact,
           coalesce(m.margin, a.value) as money,
           case when m.margin is null then 'account_value' else 'deals_12m' end as money_source,
           rank() over (order by coalesce(m.margin, a.value) desc) as money_rank,
           count(*) over () as accounts
    from conveyor.accounts a
    left join per_account pa on pa.account_id = a.id
    left join top_people tp on tp.account_id = a.id
    left join contacts c on c.account_id = a.id
    left join top_pairs pr on pr.account_id = a.id
    left join margins m on m.account_id = a.id
    where a.team_id = p_team_id and a.stage = 'active';
    -- Autovacuum never analyzes a temporary table: without these, the
    -- joins below would be planned without a key or statistics.
    alter table scan_figures add primary key (account_id);
    analyze scan_figures;

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
        select f.*, k.kind, k.rep_id as alert_rep_id
        from flagged f
        cross join lateral (values
            ('hunter_still_servicing', f.hunter_id,
             f.handed_off_at <= v_now - make_interval(days => t.hunter_grace_days)
                 and f.since_handoff > 0 and f.hunter_since >= t.hunter_share * f.since_handoff),
            ('single_threaded', f.rep1, f.n1 >= t.single_threaded_share * f.interactions),
            ('no_backup', f.backup_rep_id, f.backup_people = 1 and f.backup_interactions >= t.min_interactions),
            ('bow_tie', f.pair_rep_id,
             f.contact_interactions >= t.bow_tie_min_interactions
                 and f.pair_interactions >= t.bow_tie_share * f.contact_interactions)
        ) as k(kind, rep_id, holds)
        where k.holds
    ),
    described as (
        select f.account_id, f.kind, f.alert_rep_id as rep_id, f.severity,
               jsonb_build_object(
                   'interactions', f.interactions,
                   'window_days', t.window_days,
                   'people', f.people,
                   'top_people', to_jsonb(array_remove(array[
                       jsonb_build_object('rep', r1.ref, 'interactions', f.n1, 'share', round(f.n1::numeric / f.interactions, 4)),
                       case when f.rep2 is not null then jsonb_build_object(
                           'rep', r2.ref, 'interactions', f.n2, 'share', round(f.n2::numeric / f.interactions, 4)) end,
                       case when f.rep3 is not null then jsonb_build_object(
                           'rep', r3.ref, 'interactions', f.n3, 'share', round(f.n3::numeric / f.interactions, 4)) end],
                       null)),
                   'concentration', f.concentration,
                   'effective_people', round(1 / f.concentration, 2),
                   'money_at_stake', f.money,
                   'money_source', f.money_source,
                   'thresholds', v_thresholds -> f.kind
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
