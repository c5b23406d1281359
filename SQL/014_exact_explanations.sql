-- 014_exact_explanations.sql — two fixes to the explanations of 011.
--
-- Why: conveyor.from_unix_us multiplied an interval by the whole count of
-- microseconds, which PostgreSQL computes in floating point, so timestamps
-- far from 1970 came back a microsecond off; and conveyor.handoff_explanation
-- rebuilt loads too low when handoffs routed on the same snapshot before the
-- one explained had been deleted with their accounts: it now says the table
-- is incomplete instead (for summaries that record their run position;
-- those written before it are read as before). These were first made by editing 011 after it had
-- been applied; 011 is back to its applied text and the fixes live here
-- (databases that ran the edited 011 had them already, and now read
-- summaries from before run_position as before too).

-- Microseconds since the Unix epoch as a timestamp, exactly (whole seconds
-- and microseconds apart: an interval times a large number is computed in
-- floating point).
create or replace function conveyor.from_unix_us(p_us bigint) returns timestamptz
language sql stable parallel safe
return timestamptz 'epoch' + (p_us / 1000000) * interval '1 second' + (p_us % 1000000) * interval '1 microsecond';

-- Planned for each call's own snapshot and handoff: a plan cached for any
-- of them (PostgreSQL's generic plan, after five calls in a session) read
-- ten times slower than one made for the values at hand.
create or replace function conveyor.handoff_explanation(handoff_id bigint) returns jsonb
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
               ) order by st.rep_id),
               (select coalesce(sum(handed), 0) from since)
        into v_rep_ids, v_owned, v_capacities, v_last_assigned_at, v_reasons, v_replayed
        from state st cross join inputs i
        where i.only_rep_id is null or st.rep_id = i.only_rep_id;
        v_candidates := conveyor.explained_candidates(v_rep_ids, v_owned, v_capacities, v_last_assigned_at, v_reasons, h.to_rep_id);

        -- Every handoff before this one on the snapshot must still be there:
        -- deleting an account deletes its handoffs, and then the loads and
        -- last assignments rebuilt for the later ones are too low or too old.
        if v_summary ? 'run_position' and v_replayed <> (v_summary ->> 'run_position')::integer then
            return jsonb_build_object(
                'handoff', v_handoff, 'reconstructed', false,
                'incomplete', format('%s of the %s handoffs routed on this snapshot before this one were deleted with their accounts; '
                                     'the loads and last assignments below may be lower or older than the router saw',
                                     (v_summary ->> 'run_position')::integer - v_replayed, v_summary ->> 'run_position'),
                'runner_up', v_summary -> 'runner_up', 'excluded', v_summary -> 'excluded',
                'candidates', coalesce(v_candidates, '[]')
            );
        end if;
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
