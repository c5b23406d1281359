-- 011_explanation_snapshots.sql — handoff explanations of constant size.
--
-- Why: each handoff stored one string per account manager considered, so a
-- handoff's cost and the size of `handoffs` grew with the team, and almost
-- all of it repeated the handoff before. Routing is deterministic: the full
-- candidate table of a handoff follows from the team's candidates at some
-- moment (a snapshot) and the handoffs routed since, which is all that
-- changed them. So a handoff now stores a summary of constant size (rule,
-- chosen and runner-up with their figures, exclusion counts, fallback) and
-- the inputs of its decision, and names the snapshot its batch started
-- from; the router takes a new snapshot only when something other than its
-- own handoffs changed the team's candidates, or every 1,000 handoffs.
-- `conveyor.handoff_explanation(id)` rebuilds the full table; explanations
-- stored before this migration are read as they were written.

create table conveyor.candidate_snapshots (
    id bigserial primary key,
    team_id bigint not null references conveyor.teams (id) on delete cascade,
    taken_at timestamptz not null default now(),
    -- One array per account manager of the team, by rep id:
    -- [rep_id, active, away_until_us, capacity, owned, last_assigned_us, skills]
    -- (timestamps as microseconds since the Unix epoch, null for none; skills
    -- as the text of a text[], which reads faster than a JSON array).
    candidates jsonb not null check (jsonb_typeof(candidates) = 'array')
);

comment on table conveyor.candidate_snapshots is
    'the account managers of a team as routing saw them when a run of handoffs began (see conveyor.handoff_explanation)';

create index candidate_snapshots_team_id on conveyor.candidate_snapshots (team_id);

-- The snapshot a handoff's batch started from (null: written before 011,
-- or by an integration; its explanation is then read as stored).
alter table conveyor.handoffs add column snapshot_id bigint;

create index handoffs_snapshot on conveyor.handoffs (snapshot_id, id) include (to_rep_id, created_at)
    where snapshot_id is not null;

-- The router's bookkeeping per team, kept under the team's routing lock:
-- the current snapshot, a fingerprint of the candidates as the last batch
-- left them, and how many handoffs were routed since the snapshot.
alter table conveyor.routing_epochs
    add column snapshot_id bigint,
    add column snapshot_fingerprint bigint,
    add column handoffs_since_snapshot integer not null default 0;

-- The helpers below are plain expressions that PostgreSQL inlines into the
-- queries that use them (not strict, no stricter volatility than their
-- body): a function call per candidate would cost more than the rest.

-- A timestamp as whole microseconds since the Unix epoch, exactly; beyond
-- the years 1 to 9999 (infinity included) it counts as the nearer of them.
create function conveyor.unix_us(p_at timestamptz) returns bigint
language sql stable parallel safe
return case when p_at is not null then
    (extract(epoch from greatest(least(p_at, timestamptz '9999-12-31 00:00:00+00'), timestamptz '0001-01-01 00:00:00+00'))
     * 1000000)::bigint
end;

-- Microseconds since the Unix epoch as a timestamp, exactly.
create function conveyor.from_unix_us(p_us bigint) returns timestamptz
language sql stable parallel safe
return timestamptz 'epoch' + p_us * interval '1 microsecond';

-- ISO 8601 in UTC with milliseconds, as the daemon writes timestamps.
create function conveyor.iso8601(p_at timestamptz) returns text
language sql stable parallel safe
return to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');

-- The candidates of a full explanation, from parallel arrays (one entry per
-- candidate, in order): reasons comma-separated, empty when eligible.
-- Built as text and read as jsonb once, with integer arithmetic for the
-- utilization (owned / capacity to three places, rounded half up): several
-- times faster than a jsonb object or a numeric division per candidate. The
-- last assignment is exact: ISO 8601 in UTC with microseconds.
create function conveyor.explained_candidates(
    p_rep_ids bigint[], p_owned integer[], p_capacities integer[], p_last_assigned_at timestamptz[],
    p_reasons text[], p_chosen_rep_id bigint
) returns jsonb
language sql stable parallel safe
return (
    select coalesce(('[' || string_agg(concat(
               -- the ref by one index probe per candidate, whatever the statistics say
               '{"rep_id":', c.rep_id, ',"rep":', to_json(coalesce((select ref from conveyor.reps where id = c.rep_id), '#' || c.rep_id)),
               ',"owned":', c.owned, ',"capacity":', c.capacity,
               ',"utilization":', case when c.capacity > 0 then
                   (c.thousandths / 1000) || '.' || lpad((c.thousandths % 1000)::text, 3, '0') else 'null' end,
               ',"last_assigned_at":', coalesce(
                   '"' || to_char(c.last_assigned_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '"', 'null'),
               ',"excluded_because":', coalesce(to_json(string_to_array(nullif(c.reasons, ''), ','))::text, '[]'),
               ',"verdict":', to_json(case
                   when c.rep_id = p_chosen_rep_id then 'chosen'
                   when coalesce(c.reasons, '') = '' then 'eligible'
                   else replace(c.reasons, ',', ', ')
               end)::text, '}'
           ), ',' order by c.n) || ']')::jsonb, '[]')
    from (
        select u.*, (2000 * u.owned::bigint + u.capacity) / (2 * nullif(u.capacity, 0)::bigint) as thousandths
        from unnest(p_rep_ids, p_owned, p_capacities, p_last_assigned_at, p_reasons)
            with ordinality as u(rep_id, owned, capacity, last_assigned_at, reasons, n)
    ) as c
);

-- Planned for each call's own snapshot and handoff: a plan cached for any
-- of them (PostgreSQL's generic plan, after five calls in a session) read
-- ten times slower than one made for the values at hand.
create function conveyor.handoff_explanation(handoff_id bigint) returns jsonb
language plpgsql stable
set plan_cache_mode = force_custom_plan
as $$
declare
    h conveyor.handoffs;
    v_summary jsonb;
    v_handoff jsonb;
    v_candidates jsonb;
    v_fields jsonb;
    v_decided_at timestamptz;
    v_rep_ids bigint[];
    v_owned integer[];
    v_capacities integer[];
    v_last_assigned_at timestamptz[];
    v_reasons text[];
begin
    select * into h from conveyor.handoffs where id = handoff_explanation.handoff_id;
    if not found then
        return null;
    end if;
    v_summary := h.explanation;
    v_handoff := jsonb_build_object(
        'id', h.id, 'account_id', h.account_id, 'kind', h.kind,
        'from', (select ref from conveyor.reps where id = h.from_rep_id),
        'to', (select ref from conveyor.reps where id = h.to_rep_id),
        'at', conveyor.iso8601(h.created_at),
        'rule', v_summary -> 'rule',
        'fallback_used', v_summary -> 'fallback_used'
    );

    -- Written by the router since 011: rebuilt from the snapshot and the
    -- handoffs routed since it, evaluated with this decision's inputs.
    if h.snapshot_id is not null and v_summary ->> 'layout' = 'summary' then
        with snapshot as (
            select (c ->> 0)::bigint as rep_id, (c ->> 1)::boolean as active,
                   conveyor.from_unix_us((c ->> 2)::bigint) as away_until, (c ->> 3)::integer as capacity,
                   (c ->> 4)::integer as owned, conveyor.from_unix_us((c ->> 5)::bigint) as last_assigned_at,
                   (c ->> 6)::text[] as skills
            from conveyor.candidate_snapshots s, jsonb_array_elements(s.candidates) as c
            where s.id = h.snapshot_id
        ), since as (
            -- the routing policy's own record: each handoff adds one to its
            -- receiver's load and makes its time the receiver's last assignment
            select e.to_rep_id, count(*)::integer as handed, (array_agg(e.created_at order by e.id desc))[1] as last_at
            from conveyor.handoffs e
            where e.snapshot_id = h.snapshot_id and e.id < h.id
            group by e.to_rep_id
        ), inputs as (
            select (v_summary #>> '{inputs,hunter_id}')::bigint as hunter_id,
                   array(select jsonb_array_elements_text(coalesce(v_summary #> '{inputs,needs}', '[]'))) as needs,
                   array(select jsonb_array_elements_text(coalesce(v_summary #> '{inputs,excluded_rep_ids}', '[]'))::bigint)
                       as excluded,
                   (v_summary #>> '{inputs,only_rep_id}')::bigint as only_rep_id
        ), state as (
            select s.rep_id, s.active, s.away_until, s.capacity, s.skills,
                   s.owned + coalesce(n.handed, 0) as owned,
                   coalesce(n.last_at, s.last_assigned_at) as last_assigned_at
            from snapshot s left join since n on n.to_rep_id = s.rep_id
        )
        select array_agg(st.rep_id order by st.rep_id), array_agg(st.owned order by st.rep_id),
               array_agg(st.capacity order by st.rep_id), array_agg(st.last_assigned_at order by st.rep_id),
               array_agg(concat_ws(',',
                   case when not st.active then 'inactive' end,
                   case when st.away_until > h.created_at then 'away' end,
                   case when st.rep_id = i.hunter_id then 'hunter' end,
                   case when st.rep_id = any (i.excluded) then 'departing' end,
                   case when st.owned >= st.capacity then 'at_capacity' end,
                   case when not st.skills @> i.needs then 'skills' end
               ) order by st.rep_id)
        into v_rep_ids, v_owned, v_capacities, v_last_assigned_at, v_reasons
        from state st cross join inputs i
        where i.only_rep_id is null or st.rep_id = i.only_rep_id;
        v_candidates := conveyor.explained_candidates(v_rep_ids, v_owned, v_capacities, v_last_assigned_at, v_reasons, h.to_rep_id);

        return jsonb_build_object(
            'handoff', v_handoff, 'reconstructed', true,
            'runner_up', v_summary -> 'runner_up', 'excluded', v_summary -> 'excluded',
            'candidates', coalesce(v_candidates, '[]')
        );
    end if;

    -- Written before 011: one entry per candidate, named by `candidate_fields`
    -- (a string of fields, `-` for none; or, in the first release, an array).
    v_fields := v_summary -> 'candidate_fields';
    if jsonb_typeof(v_fields) = 'array' and jsonb_typeof(v_summary -> 'candidates') = 'array'
       and (v_summary ->> 'decided_at') is not null then
      begin
        v_decided_at := (v_summary ->> 'decided_at')::timestamptz;
        with entries as (
            select c.entry, c.n,
                   case jsonb_typeof(c.entry)
                       when 'string' then (
                           select jsonb_object_agg(f.name, case when p.part = '-' then 'null'::jsonb else to_jsonb(p.part) end)
                           from jsonb_array_elements_text(v_fields) with ordinality as f(name, k)
                           join regexp_split_to_table(c.entry #>> '{}', ' ') with ordinality as p(part, k) on p.k = f.k)
                       when 'array' then (
                           select jsonb_object_agg(f.name, coalesce(c.entry -> (f.k::integer - 1), 'null'::jsonb))
                           from jsonb_array_elements_text(v_fields) with ordinality as f(name, k))
                   end as fields
            from jsonb_array_elements(v_summary -> 'candidates') with ordinality as c(entry, n)
        )
        select array_agg((e.fields ->> 'rep_id')::bigint order by e.n), array_agg((e.fields ->> 'owned')::integer order by e.n),
               array_agg((e.fields ->> 'capacity')::integer order by e.n),
               array_agg(case
                   when e.fields ->> 'last_assigned_ms_ago' is not null
                       then v_decided_at - (e.fields ->> 'last_assigned_ms_ago')::bigint * interval '1 millisecond'
                   when e.fields ->> 'last_assigned_ms' is not null
                       then timestamptz 'epoch' + (e.fields ->> 'last_assigned_ms')::bigint * interval '1 millisecond'
               end order by e.n),
               array_agg(case jsonb_typeof(e.fields -> 'excluded_because')
                   when 'array' then array_to_string(array(select jsonb_array_elements_text(e.fields -> 'excluded_because')), ',')
                   when 'string' then e.fields ->> 'excluded_because'
                   else ''
               end order by e.n)
        into v_rep_ids, v_owned, v_capacities, v_last_assigned_at, v_reasons
        from entries e;
        v_candidates := conveyor.explained_candidates(v_rep_ids, v_owned, v_capacities, v_last_assigned_at, v_reasons, h.to_rep_id);

        return jsonb_build_object('handoff', v_handoff, 'reconstructed', false, 'candidates', coalesce(v_candidates, '[]'));
      exception
        -- A hand-written explanation that looks like that layout but is not
        -- one: returned as stored, below.
        when data_exception then null;
      end;
    end if;

    -- Anything else (a row an integration wrote by hand): returned as stored.
    return jsonb_build_object('handoff', v_handoff, 'reconstructed', false, 'stored', v_summary);
end
$$;

comment on function conveyor.handoff_explanation(bigint) is
    'the full explanation of a handoff: every candidate with its figures and verdict, the rule, the fallback (NULL for an unknown id)';
