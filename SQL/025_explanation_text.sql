-- 025_explanation_text.sql — conveyor.handoff_explanation builds its
-- answer as one text and reads it as jsonb once.
--
-- Why: for a handoff in a team of 500 the full explanation is about 93 KB,
-- and account.explain took about 10 ms of it (the bench's explain_ms_p50).
-- A profile of the server showed the time going to work done twice: the
-- candidates were gathered into five arrays (one sort each) and unnested
-- again, their text was read as jsonb, and jsonb_build_object then copied
-- that jsonb into the answer; each candidate's ref was a separate index
-- probe. Now the verdicts are computed once, in rep order, with the refs by
-- a join; each candidate's text comes from conveyor.candidate_json (inlined:
-- its arguments are plain columns), and the answer, candidates included, is
-- one text read as jsonb once. The layout and every value are those of 014.

-- One candidate of a full explanation as JSON text: reasons comma-separated,
-- empty when eligible; the utilization is owned / capacity to three places,
-- rounded half up, in integers; the last assignment is exact (ISO 8601 in
-- UTC with microseconds). A ref that is gone reads '#<rep_id>'.
create function conveyor.candidate_json(
    p_rep_id bigint, p_ref text, p_owned integer, p_capacity integer, p_last_assigned_at timestamptz,
    p_reasons text, p_chosen boolean
) returns text
language sql stable parallel safe
return concat(
    '{"rep_id":', p_rep_id, ',"rep":', to_json(coalesce(p_ref, '#' || p_rep_id)),
    ',"owned":', p_owned, ',"capacity":', p_capacity,
    ',"utilization":', case when p_capacity > 0 then
        ((2000 * p_owned::bigint + p_capacity) / (2 * p_capacity::bigint)) / 1000 || '.'
        || lpad((((2000 * p_owned::bigint + p_capacity) / (2 * p_capacity::bigint)) % 1000)::text, 3, '0') else 'null' end,
    ',"last_assigned_at":', coalesce(
        '"' || to_char(p_last_assigned_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || '"', 'null'),
    ',"excluded_because":', coalesce(to_json(string_to_array(nullif(p_reasons, ''), ','))::text, '[]'),
    ',"verdict":', to_json(case
        when p_chosen then 'chosen'
        when coalesce(p_reasons, '') = '' then 'eligible'
        else replace(p_reasons, ',', ', ')
    end)::text, '}'
);

-- The candidates of an explanation written before 011, from parallel arrays
-- (one entry per candidate, in order), by conveyor.candidate_json.
create or replace function conveyor.explained_candidates(
    p_rep_ids bigint[], p_owned integer[], p_capacities integer[], p_last_assigned_at timestamptz[],
    p_reasons text[], p_chosen_rep_id bigint
) returns jsonb
language sql stable parallel safe
return (
    select ('[' || coalesce(string_agg(conveyor.candidate_json(u.rep_id, r.ref, u.owned, u.capacity, u.last_assigned_at,
                                                              u.reasons, u.rep_id = p_chosen_rep_id), ',' order by u.n), '') || ']')::jsonb
    from unnest(p_rep_ids, p_owned, p_capacities, p_last_assigned_at, p_reasons)
        with ordinality as u(rep_id, owned, capacity, last_assigned_at, reasons, n)
    left join conveyor.reps r on r.id = u.rep_id
);

-- Planned for each call's own snapshot and handoff, as in 014.
create or replace function conveyor.handoff_explanation(handoff_id bigint) returns jsonb
language plpgsql stable
set plan_cache_mode = force_custom_plan
as $$
declare
    h conveyor.handoffs;
    v_summary jsonb;
    v_handoff jsonb;
    v_candidates jsonb;
    v_candidates_text text;
    v_incomplete boolean;
    v_fields jsonb;
    v_decided_at timestamptz;
    v_rep_ids bigint[];
    v_owned integer[];
    v_capacities integer[];
    v_last_assigned_at timestamptz[];
    v_reasons text[];
    v_replayed integer;
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
        -- the verdicts first, so that conveyor.candidate_json is inlined
        -- with plain columns as its arguments
        ), verdicts as materialized (
            select st.rep_id, r.ref, st.owned, st.capacity, st.last_assigned_at, st.rep_id = h.to_rep_id as chosen,
                   concat_ws(',',
                       case when not st.active then 'inactive' end,
                       case when st.away_until > h.created_at then 'away' end,
                       case when st.rep_id = i.hunter_id then 'hunter' end,
                       case when st.rep_id = any (i.excluded) then 'departing' end,
                       case when st.owned >= st.capacity then 'at_capacity' end,
                       case when not st.skills @> i.needs then 'skills' end
                   ) as reasons
            from state st cross join inputs i left join conveyor.reps r on r.id = st.rep_id
            where i.only_rep_id is null or st.rep_id = i.only_rep_id
        )
        select '[' || coalesce(string_agg(conveyor.candidate_json(v.rep_id, v.ref, v.owned, v.capacity, v.last_assigned_at,
                                                                 v.reasons, v.chosen), ',' order by v.rep_id), '') || ']',
               (select coalesce(sum(handed), 0) from since)
        into v_candidates_text, v_replayed
        from verdicts v;

        -- Every handoff before this one on the snapshot must still be there:
        -- deleting an account deletes its handoffs, and then the loads and
        -- last assignments rebuilt for the later ones are too low or too old.
        v_incomplete := v_summary ? 'run_position' and v_replayed <> (v_summary ->> 'run_position')::integer;
        -- One text, read as jsonb once: building an object around the
        -- candidates' jsonb would copy all of them again.
        return concat(
            '{"handoff":', v_handoff, ',"reconstructed":', case when v_incomplete then 'false' else 'true' end,
            case when v_incomplete then ',"incomplete":' || to_json(format(
                '%s of the %s handoffs routed on this snapshot before this one were deleted with their accounts; '
                'the loads and last assignments below may be lower or older than the router saw',
                (v_summary ->> 'run_position')::integer - v_replayed, v_summary ->> 'run_position')) end,
            ',"runner_up":', coalesce(v_summary -> 'runner_up', 'null'), ',"excluded":', coalesce(v_summary -> 'excluded', 'null'),
            ',"candidates":', v_candidates_text, '}'
        )::jsonb;
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
