-- SQL/schema.sql: schema conveyor as the numbered migrations (SQL/NNN_*.sql) build
-- it, in one file. Generated; not a migration (conveyord never applies it) and never
-- edited by hand: scripts/schema-snapshot rewrites it, and SchemaSnapshotTests fails
-- when it differs from a freshly migrated database. It is the output of
-- `pg_dump --schema-only --schema=conveyor --no-owner --no-privileges` (PostgreSQL 15)
-- without comment lines, SET lines, \restrict lines and repeated blank lines.

CREATE SCHEMA conveyor;

COMMENT ON SCHEMA conveyor IS 'conveyor: hands won clients to account managers and watches for attachment (reference: docs/sql.md)';

CREATE FUNCTION conveyor.accounts_after_write() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    v_account text;
    v_rep text;
    v_role text;
begin
    -- The owners' rep rows are locked (FOR SHARE) as their role is read,
    -- so a concurrent role change waits for this statement's transaction,
    -- or this one for it and then reads the new role: the two checks cannot
    -- both pass on what the other has not committed yet. A row is locked
    -- before it is read, and the query stops early only to refuse.
    if tg_op = 'INSERT' then
        select a.ref, r.ref, r.role into v_account, v_rep, v_role
        from new_rows as a
        join (select id, ref, role from conveyor.reps
              where id in (select owner_id from new_rows)
              order by id for share) as r on r.id = a.owner_id
        where r.role <> 'account_manager'
        limit 1;
    elsif tg_op = 'UPDATE' then
        -- the owners it changes, and those of accounts it makes active
        with checked as (
            select a.ref, a.owner_id
            from new_rows as a
            where a.owner_id is not null
              and not exists (select from old_rows as o where o.id = a.id and o.owner_id = a.owner_id
                              and (o.stage = 'active' or a.stage <> 'active'))
        )
        select c.ref, r.ref, r.role into v_account, v_rep, v_role
        from checked as c
        join (select id, ref, role from conveyor.reps
              where id in (select owner_id from checked)
              order by id for share) as r on r.id = c.owner_id
        where r.role <> 'account_manager'
        limit 1;
    end if;
    if v_role is not null then
        raise exception 'account %: owner % is a %, not an account manager', v_account, v_rep, v_role
            using errcode = 'check_violation',
                  hint = 'owners are set by handoffs; use conveyorctl account.reassign to move an account';
    end if;

    -- Requeues come before loads: a requeue locks the team's routing_epochs
    -- row, which routing locks before it writes accounts (and with them
    -- rep_loads), so taking rep_loads first would deadlock with a router.
    if tg_op = 'INSERT' then
        perform conveyor.add_rep_loads(array_agg(owner_id), array_agg(1))
        from new_rows where stage = 'active' and owner_id is not null
        having count(*) > 0;
    elsif tg_op = 'DELETE' then
        -- one requeue per affected team, in id order
        perform conveyor.requeue_waiting(t.team_id)
        from (select distinct team_id from old_rows
              where stage = 'active' and owner_id is not null
              order by team_id) as t;
        perform conveyor.add_rep_loads(array_agg(owner_id), array_agg(-1))
        from old_rows where stage = 'active' and owner_id is not null
        having count(*) > 0;
    else
        perform conveyor.requeue_waiting(t.team_id)
        from (
            select distinct o.team_id
            from new_rows as n
            join old_rows as o on o.id = n.id
            where (o.stage = 'active' and o.owner_id is not null
                   and (n.stage <> 'active' or n.owner_id is distinct from o.owner_id
                        or n.team_id <> o.team_id))
               or (n.needs is distinct from o.needs and n.stage <> 'active')
            order by o.team_id
        ) as t;
        perform conveyor.add_rep_loads(array_agg(rep_id), array_agg(delta))
        from (
            select owner_id as rep_id, 1 as delta from new_rows where stage = 'active' and owner_id is not null
            union all
            select owner_id, -1 from old_rows where stage = 'active' and owner_id is not null
        ) as changes
        having count(*) > 0;
    end if;
    return null;
end
$$;

CREATE FUNCTION conveyor.accounts_reset_loads() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    delete from conveyor.rep_loads;
    return null;
end
$$;

CREATE FUNCTION conveyor.add_rep_loads(p_reps bigint[], p_deltas integer[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    -- PL/pgSQL keeps the plan between calls (an SQL function plans it each time)
    with net as (
        select d.rep_id, sum(d.delta)::integer as delta
        from unnest(p_reps, p_deltas) as d(rep_id, delta)
        group by d.rep_id
        having sum(d.delta) <> 0
    ), lowered as (
        update conveyor.rep_loads as l set owned = l.owned + net.delta
        from net
        where l.rep_id = net.rep_id and net.delta < 0
    )
    insert into conveyor.rep_loads as l (rep_id, owned)
    select rep_id, delta from net where delta > 0
    order by rep_id
    on conflict (rep_id) do update set owned = l.owned + excluded.owned;
end
$$;

CREATE FUNCTION conveyor.alerts_publish() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    perform conveyor.notify_alerts((select array_agg(id order by id) from new_rows));
    return null;
end
$$;

CREATE FUNCTION conveyor.alerts_publish_changed() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    perform conveyor.notify_alerts((
        select array_agg(n.id order by n.id)
        from new_rows n
        join old_rows o on o.id = n.id
        where n.status is distinct from o.status or n.severity is distinct from o.severity));
    return null;
end
$$;

CREATE FUNCTION conveyor.candidate_json(p_rep_id bigint, p_ref text, p_owned integer, p_capacity integer, p_last_assigned_at timestamp with time zone, p_reasons text, p_chosen boolean) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN concat('{"rep_id":', p_rep_id, ',"rep":', to_json(COALESCE(p_ref, ('#'::text || p_rep_id))), ',"owned":', p_owned, ',"capacity":', p_capacity, ',"utilization":', CASE WHEN (p_capacity > 0) THEN ((((((2000 * (p_owned)::bigint) + p_capacity) / (2 * (p_capacity)::bigint)) / 1000) || '.'::text) || lpad((((((2000 * (p_owned)::bigint) + p_capacity) / (2 * (p_capacity)::bigint)) % (1000)::bigint))::text, 3, '0'::text)) ELSE 'null'::text END, ',"last_assigned_at":', COALESCE((('"'::text || to_char((p_last_assigned_at AT TIME ZONE 'UTC'::text), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'::text)) || '"'::text), 'null'::text), ',"excluded_because":', COALESCE((to_json(string_to_array(NULLIF(p_reasons, ''::text), ','::text)))::text, '[]'::text), ',"verdict":', (to_json(CASE WHEN p_chosen THEN 'chosen'::text WHEN (COALESCE(p_reasons, ''::text) = ''::text) THEN 'eligible'::text ELSE replace(p_reasons, ','::text, ', '::text) END))::text, '}');

CREATE FUNCTION conveyor.check_team_time_zone() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    if not exists (select 1 from pg_catalog.pg_timezone_names where name = new.time_zone) then
        raise exception 'unknown time zone "%"', left(new.time_zone, 100)
            using errcode = 'invalid_parameter_value',   -- 22023
                  hint = 'Use an IANA time zone name such as "Europe/Berlin" or "UTC".';
    end if;
    return new;
end
$$;

CREATE FUNCTION conveyor.default_name_to_ref() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    if new.name is null then
        new.name := new.ref;
    end if;
    return new;
end
$$;

CREATE FUNCTION conveyor.tags_ok(tags text[], max_count integer) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    tag text;
begin
    if tags is null then
        return true;
    end if;
    if coalesce(array_ndims(tags), 1) <> 1 or cardinality(tags) > max_count then
        return false;
    end if;
    foreach tag in array tags loop
        if tag is null or tag !~ '[^[:space:]]' or length(tag) > 100 then
            return false;
        end if;
    end loop;
    return true;
end
$$;

COMMENT ON FUNCTION conveyor.tags_ok(tags text[], max_count integer) IS 'true when every tag is non-null, non-blank, <= 100 chars, and there are at most max_count of them';

CREATE TABLE conveyor.reps (
    id bigint NOT NULL,
    team_id bigint NOT NULL,
    ref text NOT NULL,
    name text NOT NULL,
    role text NOT NULL,
    capacity integer DEFAULT 0 NOT NULL,
    skills text[] DEFAULT '{}'::text[] NOT NULL,
    active boolean DEFAULT true NOT NULL,
    away_until timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT reps_away_until_range CHECK (((away_until >= '1970-01-01 00:00:00+00'::timestamp with time zone) AND (away_until <= '9999-12-31 23:59:59+00'::timestamp with time zone))),
    CONSTRAINT reps_capacity_check CHECK ((capacity >= 0)),
    CONSTRAINT reps_name_check CHECK ((length(name) <= 1000)),
    CONSTRAINT reps_ref_check CHECK ((((length(ref) >= 1) AND (length(ref) <= 200)) AND (ref ~ '[^[:space:]]'::text))),
    CONSTRAINT reps_role_check CHECK ((role = ANY (ARRAY['lead_generator'::text, 'closer'::text, 'account_manager'::text]))),
    CONSTRAINT reps_skills_check CHECK (conveyor.tags_ok(skills, 100))
);

COMMENT ON TABLE conveyor.reps IS 'sales people; acquisition roles (lead_generator, closer) hunt, account_manager farms';

COMMENT ON COLUMN conveyor.reps.name IS 'display name; defaults to ref when not given';

COMMENT ON COLUMN conveyor.reps.capacity IS 'how many accounts in stage active an account_manager may own';

CREATE FUNCTION conveyor.explained_candidates(p_rep_ids bigint[], p_owned integer[], p_capacities integer[], p_last_assigned_at timestamp with time zone[], p_reasons text[], p_chosen_rep_id bigint) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (SELECT ((('['::text || COALESCE(string_agg(conveyor.candidate_json(u.rep_id, r.ref, u.owned, u.capacity, u.last_assigned_at, u.reasons, (u.rep_id = explained_candidates.p_chosen_rep_id)), ','::text ORDER BY u.n), ''::text)) || ']'::text))::jsonb AS jsonb FROM (UNNEST(explained_candidates.p_rep_ids, explained_candidates.p_owned, explained_candidates.p_capacities, explained_candidates.p_last_assigned_at, explained_candidates.p_reasons) WITH ORDINALITY u(rep_id, owned, capacity, last_assigned_at, reasons, n) LEFT JOIN conveyor.reps r ON ((r.id = u.rep_id))));

CREATE FUNCTION conveyor.from_unix_us(p_us bigint) RETURNS timestamp with time zone
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (('1970-01-01 00:00:00+00'::timestamp with time zone + (((p_us / 1000000))::double precision * '00:00:01'::interval)) + (((p_us % (1000000)::bigint))::double precision * '00:00:00.000001'::interval));

CREATE FUNCTION conveyor.handoff_explanation(handoff_id bigint) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode TO 'force_custom_plan'
    AS $$
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

COMMENT ON FUNCTION conveyor.handoff_explanation(handoff_id bigint) IS 'the full explanation of a handoff: every candidate with its figures and verdict, the rule, the fallback (NULL for an unknown id)';

CREATE FUNCTION conveyor.handoffs_after_write() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    v_missing bigint;
begin
    -- Lock first: a rep deleted meanwhile is then seen as missing below.
    perform
    from conveyor.reps as r
    where r.id in (select from_rep_id from new_rows union select to_rep_id from new_rows)
    order by r.id
    for key share;

    select n.id into v_missing
    from (select from_rep_id as id from new_rows where from_rep_id is not null
          union
          select to_rep_id from new_rows) as n
    where not exists (select from conveyor.reps as r where r.id = n.id)
    limit 1;
    if found then
        raise exception 'handoff names rep % that does not exist', v_missing
            using errcode = 'foreign_key_violation';
    end if;

    if tg_op = 'INSERT' then
        insert into conveyor.handoff_tallies as t (team_id, kind, handoffs)
        select a.team_id, n.kind, count(*)
        from new_rows n join conveyor.accounts a on a.id = n.account_id
        group by a.team_id, n.kind
        order by a.team_id, n.kind
        on conflict (team_id, kind) do update set handoffs = t.handoffs + excluded.handoffs;
    end if;

    insert into conveyor.rep_last_assigned as l (rep_id, last_assigned_at)
    select to_rep_id, max(created_at)
    from new_rows
    group by to_rep_id
    order by to_rep_id
    on conflict (rep_id) do update set last_assigned_at = excluded.last_assigned_at
    where l.last_assigned_at < excluded.last_assigned_at;
    return null;
end
$$;

CREATE FUNCTION conveyor.iso8601(p_at timestamp with time zone) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN to_char((p_at AT TIME ZONE 'UTC'::text), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'::text);

CREATE FUNCTION conveyor.jobs_notify_inserted() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    -- statement-level: one check per INSERT, however many rows; an
    -- INSERT ... ON CONFLICT DO NOTHING that inserted nothing stays quiet
    if exists (select 1 from new_rows where state in ('available', 'retryable')) then
        perform pg_notify('conveyor_jobs', '');
    end if;
    return null;
end
$$;

CREATE FUNCTION conveyor.notify_alerts(p_ids bigint[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
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

CREATE FUNCTION conveyor.quote_for_message(v text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select case
        when v is null then 'NULL'
        when length(v) > 100 then '"' || left(v, 100) || '..."'
        else '"' || v || '"'
    end
$$;

CREATE FUNCTION conveyor.record_win(team text, account_ref text, hunter_ref text, account_name text DEFAULT NULL::text, needs text[] DEFAULT '{}'::text[], value numeric DEFAULT 0) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    -- arguments copied into locals: "needs", "value" and "team" are also
    -- column names, and plpgsql would reject the ambiguity
    v_team      text    := record_win.team;
    v_ref       text    := record_win.account_ref;
    v_hunter    text    := record_win.hunter_ref;
    v_name      text    := record_win.account_name;
    v_needs     text[]  := coalesce(record_win.needs, '{}');
    v_value     numeric := coalesce(record_win.value, 0);

    v_team_id   bigint;
    v_hunter_id bigint;
    v_role      text;
    v_account   bigint;
    v_job       bigint;
    v_key       text;
    v_bad       text;
begin
    -- 1. arguments ----------------------------------------------------------

    if v_team is null then
        raise exception 'record_win: team must not be null'
            using errcode = 'null_value_not_allowed';
    end if;
    if v_ref is null then
        raise exception 'record_win: account_ref must not be null'
            using errcode = 'null_value_not_allowed';
    end if;
    if v_hunter is null then
        raise exception 'record_win: hunter_ref must not be null'
            using errcode = 'null_value_not_allowed';
    end if;

    if v_ref !~ '[^[:space:]]' then
        raise exception 'record_win: account_ref must not be blank'
            using errcode = 'invalid_parameter_value';
    end if;
    if length(v_ref) > 200 then
        raise exception 'record_win: account_ref is too long (% characters, at most 200)', length(v_ref)
            using errcode = 'invalid_parameter_value';
    end if;

    -- a blank name counts as "not given": keep the existing name, or use the ref
    if v_name !~ '[^[:space:]]' then
        v_name := null;
    end if;
    if length(v_name) > 1000 then
        raise exception 'record_win: account_name is too long (% characters, at most 1000)', length(v_name)
            using errcode = 'string_data_right_truncation';
    end if;

    -- 'infinity' also excludes NaN, which sorts above it
    if not (v_value >= 0 and v_value < 'infinity') then
        raise exception 'record_win: value must be a finite number >= 0, got %', left(v_value::text, 50)
            using errcode = 'invalid_parameter_value';
    end if;

    if coalesce(array_ndims(v_needs), 1) <> 1 then
        raise exception 'record_win: needs must be a one-dimensional array'
            using errcode = 'invalid_parameter_value';
    end if;
    if cardinality(v_needs) > 50 then
        raise exception 'record_win: too many needs (%, at most 50)', cardinality(v_needs)
            using errcode = 'invalid_parameter_value';
    end if;
    if array_position(v_needs, null) is not null then
        raise exception 'record_win: needs must not contain null'
            using errcode = 'invalid_parameter_value';
    end if;
    select n into v_bad from unnest(v_needs) as u(n) where n !~ '[^[:space:]]' limit 1;
    if found then
        raise exception 'record_win: needs must not contain blank entries'
            using errcode = 'invalid_parameter_value';
    end if;
    select n into v_bad from unnest(v_needs) as u(n) where length(n) > 100 limit 1;
    if found then
        raise exception 'record_win: need % is too long (% characters, at most 100)',
                conveyor.quote_for_message(v_bad), length(v_bad)
            using errcode = 'invalid_parameter_value';
    end if;

    -- 2. team and hunter ----------------------------------------------------

    select t.id into v_team_id
    from conveyor.teams as t
    where t.name = v_team;
    if not found then
        raise exception 'record_win: unknown team %', conveyor.quote_for_message(v_team)
            using errcode = 'foreign_key_violation';
    end if;

    select r.id, r.role into v_hunter_id, v_role
    from conveyor.reps as r
    where r.team_id = v_team_id and r.ref = v_hunter;
    if not found then
        raise exception 'record_win: unknown hunter % in team %',
                conveyor.quote_for_message(v_hunter), conveyor.quote_for_message(v_team)
            using errcode = 'foreign_key_violation';
    end if;
    -- an inactive hunter is fine: the win may be recorded after they left
    if v_role = 'account_manager' then
        raise exception 'record_win: hunter % is an account manager; only lead_generator or closer can win a client',
                conveyor.quote_for_message(v_hunter)
            using errcode = 'invalid_parameter_value';
    end if;

    -- 3. the account --------------------------------------------------------

    -- A new account is created already won. ON CONFLICT DO NOTHING waits for a
    -- concurrent inserter of the same ref and then yields no row.
    insert into conveyor.accounts as a
        (team_id, ref, name, stage, needs, value, hunter_id, won_at)
    values
        (v_team_id, v_ref, coalesce(v_name, v_ref), 'won', v_needs, v_value, v_hunter_id, now())
    on conflict (team_id, ref) do nothing
    returning a.id into v_account;

    if v_account is null then
        -- The account exists. Lock it so that concurrent calls for the same
        -- ref run one after the other; each statement below sees what the
        -- previous holder of the lock committed.
        select a.id, a.handoff_job_id into v_account, v_job
        from conveyor.accounts as a
        where a.team_id = v_team_id and a.ref = v_ref
        for update;

        -- already won through record_win: same job id, no change. The
        -- account column survives pruning of the job; the jobs lookup covers
        -- a handoff job enqueued by other means.
        if v_job is not null then
            return v_job;
        end if;
        select j.id into v_job
        from conveyor.jobs as j
        where j.unique_key = 'handoff:' || v_account;
        if found then
            return v_job;
        end if;
    end if;

    -- 4. the handoff job (before updating the account, so that a job with
    --    this key enqueued concurrently by other means still means "no
    --    change") -------------------------------------------------------------

    v_key := 'handoff:' || v_account;

    insert into conveyor.jobs as j (kind, payload, unique_key, team_id)
    values ('handoff', jsonb_build_object('account_id', v_account), v_key, v_team_id)
    on conflict (unique_key) where unique_key is not null do nothing
    returning j.id into v_job;

    if v_job is null then
        select j.id into strict v_job
        from conveyor.jobs as j
        where j.unique_key = v_key;
        return v_job;
    end if;

    -- 5. mark the account won -------------------------------------------------

    update conveyor.accounts as a
    set stage          = 'won',
        hunter_id      = v_hunter_id,
        won_at         = now(),
        name           = coalesce(v_name, a.name),   -- null: keep the existing name
        needs          = v_needs,
        value          = v_value,
        handoff_job_id = v_job
    where a.id = v_account;

    return v_job;
end
$$;

COMMENT ON FUNCTION conveyor.record_win(team text, account_ref text, hunter_ref text, account_name text, needs text[], value numeric) IS 'mark an account won by hunter_ref and enqueue its handoff; returns the handoff job id; idempotent per (team, account_ref)';

CREATE FUNCTION conveyor.reps_keep_handoff_history() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    if exists (select from conveyor.handoffs where from_rep_id = old.id)
       or exists (select from conveyor.handoffs where to_rep_id = old.id) then
        raise exception 'rep % cannot be deleted: handoffs name it (make it inactive instead)', old.id
            using errcode = 'foreign_key_violation';
    end if;
    return null;
end
$$;

CREATE FUNCTION conveyor.reps_keep_managers_of_owned() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    v_rep text;
    v_role text;
    v_owned integer;
begin
    select n.ref, n.role, l.owned into v_rep, v_role, v_owned
    from new_rows as n
    join old_rows as o on o.id = n.id
    join conveyor.rep_loads as l on l.rep_id = n.id
    where o.role = 'account_manager' and n.role <> 'account_manager' and l.owned > 0
    limit 1;
    if found then
        raise exception 'rep % owns % active accounts and cannot become a %', v_rep, v_owned, v_role
            using errcode = 'check_violation',
                  hint = 'move their accounts first: conveyorctl rep.depart, or account.reassign';
    end if;
    return null;
end
$$;

CREATE FUNCTION conveyor.reps_requeue_inserted() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    -- one requeue per affected team, in id order
    perform conveyor.requeue_waiting(t.team_id)
    from (
            select distinct n.team_id as team_id
            from new_rows as n
            where n.role = 'account_manager' and n.active and n.capacity > 0
            order by n.team_id
    ) as t;
    return null;
end
$$;

CREATE FUNCTION conveyor.reps_requeue_updated() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    -- one requeue per affected team, in id order
    perform conveyor.requeue_waiting(t.team_id)
    from (
            select t.team_id as team_id
            from (
                select n.team_id, o.team_id as old_team_id
                from new_rows as n
                join old_rows as o on o.id = n.id
                where n.capacity > o.capacity
                   or (n.active and not o.active)
                   or n.away_until is distinct from o.away_until
                   or n.role is distinct from o.role
                   or n.skills is distinct from o.skills
                   or n.team_id is distinct from o.team_id
            ) as changed
            cross join lateral (values (changed.team_id), (changed.old_team_id)) as t(team_id)
            group by t.team_id
            order by t.team_id
    ) as t;
    return null;
end
$$;

CREATE FUNCTION conveyor.requeue_waiting(p_team_id bigint) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
declare
    v_count integer;
begin
    if p_team_id is null then
        return 0;
    end if;

    -- Bump the team's routing epoch first. The row lock is held until commit
    -- and waits for a router holding it, so the update below (a new
    -- statement, hence a new snapshot) sees any job it just parked.
    update conveyor.routing_epochs
    set epoch = epoch + 1, bumped_at = now()
    where team_id = p_team_id;
    if not found then
        -- no epoch row (should not happen; see teams_create_epoch), or the
        -- team is being deleted in this very transaction: then insert nothing
        insert into conveyor.routing_epochs as e (team_id, epoch, bumped_at)
        select t.id, 1, now() from conveyor.teams as t where t.id = p_team_id
        on conflict (team_id) do update
            set epoch = e.epoch + 1, bumped_at = now();
    end if;

    update conveyor.jobs
    set state = 'available', run_at = now()
    where state = 'waiting' and team_id = p_team_id;
    get diagnostics v_count = row_count;

    if v_count > 0 then
        perform pg_notify('conveyor_jobs', '');
    end if;
    return v_count;
end
$$;

COMMENT ON FUNCTION conveyor.requeue_waiting(p_team_id bigint) IS 'make the team''s waiting jobs available again (and notify); bumps routing_epochs; returns how many';

CREATE FUNCTION conveyor.running_scan_started_at(p_team_id bigint) RETURNS timestamp with time zone
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    select min(a.xact_start)
    from pg_locks l
    join pg_stat_activity a on a.pid = l.pid
    where l.locktype = 'advisory' and l.granted and l.objsubid = 2
      and l.database = (select oid from pg_database where datname = current_database())
      and l.classid = 1396916558                      -- 'SCAN'
      and l.objid = conveyor.scan_lock_key(p_team_id)::oid
$$;

CREATE FUNCTION conveyor.scan_lock_key(p_team_id bigint) RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ select (p_team_id % 2147483647)::integer $$;

CREATE FUNCTION conveyor.scan_team(p_team_id bigint, p_trigger text DEFAULT 'manual'::text, p_local_date date DEFAULT NULL::date, p_job_id bigint DEFAULT NULL::bigint) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET work_mem TO '256MB'
    SET jit TO 'off'
    SET plan_cache_mode TO 'force_custom_plan'
    AS $$
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

COMMENT ON FUNCTION conveyor.scan_team(p_team_id bigint, p_trigger text, p_local_date date, p_job_id bigint) IS 'scores a team''s active accounts and opens, updates and resolves its attachment alerts; returns the outcome';

CREATE FUNCTION conveyor.severity_rank(p_severity text) RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ select array_position(array['low', 'medium', 'high'], p_severity) $$;

CREATE TABLE conveyor.teams (
    id bigint NOT NULL,
    name text NOT NULL,
    time_zone text DEFAULT 'UTC'::text NOT NULL,
    scan_local_time time without time zone DEFAULT '02:00:00'::time without time zone NOT NULL,
    paused boolean DEFAULT false NOT NULL,
    skills_fallback boolean DEFAULT false NOT NULL,
    low_value_threshold numeric DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    window_days integer DEFAULT 90 NOT NULL,
    min_interactions integer DEFAULT 6 NOT NULL,
    hunter_grace_days integer DEFAULT 14 NOT NULL,
    hunter_share numeric DEFAULT 0.25 NOT NULL,
    single_threaded_share numeric DEFAULT 0.80 NOT NULL,
    no_backup_days integer DEFAULT 180 NOT NULL,
    bow_tie_share numeric DEFAULT 0.70 NOT NULL,
    bow_tie_min_interactions integer DEFAULT 6 NOT NULL,
    high_severity_share numeric DEFAULT 0.25 NOT NULL,
    webhook_url text,
    webhook_secret text,
    CONSTRAINT teams_bow_tie_min_interactions_check CHECK (((bow_tie_min_interactions >= 1) AND (bow_tie_min_interactions <= 1000000))),
    CONSTRAINT teams_bow_tie_share_check CHECK (((bow_tie_share > (0)::numeric) AND (bow_tie_share <= (1)::numeric))),
    CONSTRAINT teams_high_severity_share_check CHECK (((high_severity_share > (0)::numeric) AND (high_severity_share <= (1)::numeric))),
    CONSTRAINT teams_hunter_grace_days_check CHECK (((hunter_grace_days >= 0) AND (hunter_grace_days <= 3650))),
    CONSTRAINT teams_hunter_share_check CHECK (((hunter_share > (0)::numeric) AND (hunter_share <= (1)::numeric))),
    CONSTRAINT teams_low_value_threshold_check CHECK (((low_value_threshold >= (0)::numeric) AND (low_value_threshold < 'Infinity'::numeric))),
    CONSTRAINT teams_min_interactions_check CHECK (((min_interactions >= 1) AND (min_interactions <= 1000000))),
    CONSTRAINT teams_name_check CHECK ((((length(name) >= 1) AND (length(name) <= 200)) AND (name ~ '[^[:space:]]'::text))),
    CONSTRAINT teams_no_backup_days_check CHECK (((no_backup_days >= 1) AND (no_backup_days <= 3650))),
    CONSTRAINT teams_scan_local_time_check CHECK ((scan_local_time < '24:00:00'::time without time zone)),
    CONSTRAINT teams_single_threaded_share_check CHECK (((single_threaded_share > (0)::numeric) AND (single_threaded_share <= (1)::numeric))),
    CONSTRAINT teams_webhook_secret_check CHECK ((((length(webhook_secret) >= 16) AND (length(webhook_secret) <= 1000)) AND (webhook_secret !~ '[[:cntrl:]]'::text))),
    CONSTRAINT teams_webhook_url_check CHECK (((length(webhook_url) <= 2000) AND (webhook_url ~ '^https?://[^[:space:][:cntrl:]]+$'::text))),
    CONSTRAINT teams_window_days_check CHECK (((window_days >= 1) AND (window_days <= 3650)))
);

COMMENT ON TABLE conveyor.teams IS 'a sales team: its reps, accounts, routing and scan settings';

COMMENT ON COLUMN conveyor.teams.time_zone IS 'IANA zone name; the nightly scan runs at scan_local_time in this zone';

COMMENT ON COLUMN conveyor.teams.paused IS 'true: handoffs wait (jobs stay waiting) until the team is resumed';

COMMENT ON COLUMN conveyor.teams.skills_fallback IS 'true: when no manager covers an account''s needs, route among managers without them (said in the explanation)';

COMMENT ON COLUMN conveyor.teams.low_value_threshold IS 'alerts on accounts whose money at stake is below this are severity low';

COMMENT ON COLUMN conveyor.teams.window_days IS 'the scan looks at interactions of the last window_days days';

COMMENT ON COLUMN conveyor.teams.min_interactions IS 'accounts with fewer interactions in the window are not scored';

COMMENT ON COLUMN conveyor.teams.hunter_grace_days IS 'hunter_still_servicing: days after the handoff before the hunter''s share counts';

COMMENT ON COLUMN conveyor.teams.hunter_share IS 'hunter_still_servicing: the hunter''s share of interactions since the handoff that raises it';

COMMENT ON COLUMN conveyor.teams.single_threaded_share IS 'single_threaded: the top person''s share of the window''s interactions that raises it';

COMMENT ON COLUMN conveyor.teams.no_backup_days IS 'no_backup: the period in which one person did every interaction';

COMMENT ON COLUMN conveyor.teams.bow_tie_share IS 'bow_tie: the top (rep, contact) pair''s share of the window''s interactions that name a contact';

COMMENT ON COLUMN conveyor.teams.bow_tie_min_interactions IS 'bow_tie: interactions naming a contact needed before it is judged';

COMMENT ON COLUMN conveyor.teams.high_severity_share IS 'alerts on the top this share of the team''s accounts by money at stake are severity high';

COMMENT ON COLUMN conveyor.teams.webhook_url IS 'http(s) address the nightly digest is POSTed to (null: none)';

COMMENT ON COLUMN conveyor.teams.webhook_secret IS 'HMAC-SHA256 key of the digest''s Conveyor-Signature header; never shown back';

CREATE FUNCTION conveyor.team_settings(t conveyor.teams) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    select jsonb_build_object(
        'window_days', t.window_days, 'min_interactions', t.min_interactions,
        'hunter_grace_days', t.hunter_grace_days, 'hunter_share', t.hunter_share,
        'single_threaded_share', t.single_threaded_share, 'no_backup_days', t.no_backup_days,
        'bow_tie_share', t.bow_tie_share, 'bow_tie_min_interactions', t.bow_tie_min_interactions,
        'high_severity_share', t.high_severity_share, 'low_value_threshold', t.low_value_threshold)
$$;

CREATE FUNCTION conveyor.teams_create_epoch() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    insert into conveyor.routing_epochs (team_id)
    select id from new_rows
    on conflict (team_id) do nothing;
    return null;
end
$$;

CREATE FUNCTION conveyor.teams_requeue_updated() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    -- one requeue per affected team, in id order
    perform conveyor.requeue_waiting(t.team_id)
    from (
            select n.id as team_id
            from new_rows as n
            join old_rows as o on o.id = n.id
            where (o.paused and not n.paused)
               or (n.skills_fallback and not o.skills_fallback)
            order by n.id
    ) as t;
    return null;
end
$$;

CREATE FUNCTION conveyor.touch_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
begin
    new.updated_at := now();
    return new;
end
$$;

CREATE FUNCTION conveyor.unix_us(p_at timestamp with time zone) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN CASE WHEN (p_at IS NOT NULL) THEN ((EXTRACT(epoch FROM GREATEST(LEAST(p_at, '9999-12-31 00:00:00+00'::timestamp with time zone), '0001-01-01 00:00:00+00'::timestamp with time zone)) * (1000000)::numeric))::bigint ELSE NULL::bigint END;

CREATE TABLE conveyor.accounts (
    id bigint NOT NULL,
    team_id bigint NOT NULL,
    ref text NOT NULL,
    name text NOT NULL,
    stage text DEFAULT 'lead'::text NOT NULL,
    needs text[] DEFAULT '{}'::text[] NOT NULL,
    value numeric DEFAULT 0 NOT NULL,
    hunter_id bigint,
    owner_id bigint,
    won_at timestamp with time zone,
    handed_off_at timestamp with time zone,
    handoff_job_id bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT accounts_name_check CHECK ((length(name) <= 1000)),
    CONSTRAINT accounts_needs_check CHECK (conveyor.tags_ok(needs, 50)),
    CONSTRAINT accounts_owner_not_hunter CHECK ((owner_id <> hunter_id)),
    CONSTRAINT accounts_ref_check CHECK ((((length(ref) >= 1) AND (length(ref) <= 200)) AND (ref ~ '[^[:space:]]'::text))),
    CONSTRAINT accounts_stage_check CHECK ((stage = ANY (ARRAY['lead'::text, 'qualified'::text, 'won'::text, 'active'::text, 'churned'::text]))),
    CONSTRAINT accounts_value_check CHECK (((value >= (0)::numeric) AND (value < 'Infinity'::numeric)))
)
WITH (fillfactor='85');

COMMENT ON TABLE conveyor.accounts IS 'clients and prospects moving through the conveyor';

COMMENT ON COLUMN conveyor.accounts.name IS 'display name; defaults to ref when not given';

COMMENT ON COLUMN conveyor.accounts.needs IS 'skills the client requires; routing picks managers whose skills cover them';

COMMENT ON COLUMN conveyor.accounts.value IS 'expected yearly margin; alert severity uses it when there are no deals';

COMMENT ON COLUMN conveyor.accounts.hunter_id IS 'the acquisition rep who won the account';

COMMENT ON COLUMN conveyor.accounts.owner_id IS 'the current account manager';

COMMENT ON COLUMN conveyor.accounts.handoff_job_id IS 'the handoff job record_win enqueued (kept here so record_win stays idempotent after the job is pruned)';

CREATE SEQUENCE conveyor.accounts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE conveyor.accounts_id_seq OWNED BY conveyor.accounts.id;

CREATE TABLE conveyor.admin_audit (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    uid integer,
    pid integer,
    role text,
    command text NOT NULL,
    args jsonb DEFAULT '{}'::jsonb NOT NULL,
    ok boolean NOT NULL,
    error_code text,
    repeats integer DEFAULT 1 NOT NULL,
    last_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT admin_audit_repeats_check CHECK ((repeats >= 1))
);

COMMENT ON TABLE conveyor.admin_audit IS 'state-changing admin socket commands: peer uid/pid and role, command, args, outcome';

COMMENT ON COLUMN conveyor.admin_audit.repeats IS 'how many identical refused attempts this row stands for (1 for every success)';

COMMENT ON COLUMN conveyor.admin_audit.last_at IS 'when the last of them came (at is the first)';

CREATE SEQUENCE conveyor.admin_audit_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE conveyor.admin_audit_id_seq OWNED BY conveyor.admin_audit.id;

CREATE TABLE conveyor.alerts (
    id bigint NOT NULL,
    team_id bigint NOT NULL,
    account_id bigint,
    rep_id bigint,
    kind text NOT NULL,
    severity text NOT NULL,
    status text DEFAULT 'open'::text NOT NULL,
    first_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    last_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    resolved_at timestamp with time zone,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    snoozed_until timestamp with time zone,
    acknowledged_at timestamp with time zone,
    CONSTRAINT alerts_kind_check CHECK (((length(kind) >= 1) AND (length(kind) <= 100))),
    CONSTRAINT alerts_severity_check CHECK ((severity = ANY (ARRAY['low'::text, 'medium'::text, 'high'::text]))),
    CONSTRAINT alerts_snoozed_until_range CHECK (((snoozed_until >= '1970-01-01 00:00:00+00'::timestamp with time zone) AND (snoozed_until <= '9999-12-31 23:59:59+00'::timestamp with time zone))),
    CONSTRAINT alerts_status_check CHECK ((status = ANY (ARRAY['open'::text, 'acknowledged'::text, 'snoozed'::text, 'resolved'::text])))
)
WITH (fillfactor='40');

COMMENT ON TABLE conveyor.alerts IS 'one open alert per (account, kind); a rescan updates it, a cleared condition resolves it';

COMMENT ON COLUMN conveyor.alerts.details IS 'the figures behind the alert';

CREATE SEQUENCE conveyor.alerts_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE conveyor.alerts_id_seq OWNED BY conveyor.alerts.id;

CREATE TABLE conveyor.candidate_snapshots (
    id bigint NOT NULL,
    team_id bigint NOT NULL,
    taken_at timestamp with time zone DEFAULT now() NOT NULL,
    candidates jsonb NOT NULL,
    CONSTRAINT candidate_snapshots_candidates_check CHECK ((jsonb_typeof(candidates) = 'array'::text))
);

COMMENT ON TABLE conveyor.candidate_snapshots IS 'the account managers of a team as routing saw them when a run of handoffs began (see conveyor.handoff_explanation)';

CREATE SEQUENCE conveyor.candidate_snapshots_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE conveyor.candidate_snapshots_id_seq OWNED BY conveyor.candidate_snapshots.id;

CREATE TABLE conveyor.deals (
    id bigint NOT NULL,
    account_id bigint NOT NULL,
    rep_id bigint,
    closed_at timestamp with time zone DEFAULT now() NOT NULL,
    amount numeric NOT NULL,
    margin numeric NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT deals_amount_check CHECK (((amount > '-Infinity'::numeric) AND (amount < 'Infinity'::numeric))),
    CONSTRAINT deals_margin_check CHECK (((margin > '-Infinity'::numeric) AND (margin < 'Infinity'::numeric)))
);

COMMENT ON TABLE conveyor.deals IS 'closed deals; trailing-12-month margin drives alert severity';

CREATE SEQUENCE conveyor.deals_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE conveyor.deals_id_seq OWNED BY conveyor.deals.id;

CREATE TABLE conveyor.handoff_tallies (
    team_id bigint NOT NULL,
    kind text NOT NULL,
    handoffs bigint NOT NULL,
    CONSTRAINT handoff_tallies_handoffs_check CHECK ((handoffs >= 0))
);

COMMENT ON TABLE conveyor.handoff_tallies IS 'handoffs per team and kind so far (kept by a trigger on conveyor.handoffs)';

CREATE TABLE conveyor.handoffs (
    id bigint NOT NULL,
    account_id bigint NOT NULL,
    from_rep_id bigint,
    to_rep_id bigint NOT NULL,
    kind text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    explanation jsonb DEFAULT '{}'::jsonb NOT NULL,
    snapshot_id bigint,
    CONSTRAINT handoffs_kind_check CHECK ((kind = ANY (ARRAY['auto'::text, 'manual'::text, 'redistribution'::text]))),
    CONSTRAINT handoffs_not_to_self CHECK ((from_rep_id <> to_rep_id))
);

COMMENT ON TABLE conveyor.handoffs IS 'every change of an account''s owner';

COMMENT ON COLUMN conveyor.handoffs.explanation IS 'every candidate considered, why each was excluded, the rule that chose';

CREATE SEQUENCE conveyor.handoffs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE conveyor.handoffs_id_seq OWNED BY conveyor.handoffs.id;

CREATE TABLE conveyor.interactions (
    id bigint NOT NULL,
    account_id bigint NOT NULL,
    rep_id bigint NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    kind text NOT NULL,
    contact text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT interactions_contact_check CHECK ((length(contact) <= 1000)),
    CONSTRAINT interactions_kind_check CHECK (((length(kind) >= 1) AND (length(kind) <= 50)))
);

COMMENT ON TABLE conveyor.interactions IS 'calls, emails, meetings, shipments...: who works the account';

CREATE SEQUENCE conveyor.interactions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE conveyor.interactions_id_seq OWNED BY conveyor.interactions.id;

CREATE TABLE conveyor.jobs (
    id bigint NOT NULL,
    kind text NOT NULL,
    state text DEFAULT 'available'::text NOT NULL,
    priority smallint DEFAULT 0 NOT NULL,
    run_at timestamp with time zone DEFAULT now() NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    max_attempts integer DEFAULT 20 NOT NULL,
    unique_key text,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    last_error text,
    team_id bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    attempted_at timestamp with time zone,
    finished_at timestamp with time zone,
    output jsonb,
    CONSTRAINT jobs_kind_check CHECK (((length(kind) >= 1) AND (length(kind) <= 100))),
    CONSTRAINT jobs_max_attempts_check CHECK ((max_attempts > 0)),
    CONSTRAINT jobs_state_check CHECK ((state = ANY (ARRAY['available'::text, 'running'::text, 'waiting'::text, 'succeeded'::text, 'retryable'::text, 'dead'::text, 'cancelled'::text])))
);

COMMENT ON TABLE conveyor.jobs IS 'the work queue; waiting = blocked until capacity appears (see requeue_waiting)';

COMMENT ON COLUMN conveyor.jobs.unique_key IS 'enqueue with on conflict (unique_key) where unique_key is not null do nothing; ''handoff:<account id>'' is reserved for record_win';

COMMENT ON COLUMN conveyor.jobs.output IS 'what the job answered when it succeeded (rep.depart: the redistribution; scan: the outcome), for the command waiting for it';

CREATE SEQUENCE conveyor.jobs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE conveyor.jobs_id_seq OWNED BY conveyor.jobs.id;

CREATE TABLE conveyor.probes (
    id bigint NOT NULL,
    job_id bigint NOT NULL,
    done_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE SEQUENCE conveyor.probes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE conveyor.probes_id_seq OWNED BY conveyor.probes.id;

CREATE TABLE conveyor.rep_last_assigned (
    rep_id bigint NOT NULL,
    last_assigned_at timestamp with time zone NOT NULL
);

COMMENT ON TABLE conveyor.rep_last_assigned IS 'when each rep was last handed an account (the newest handoff to them; kept by a trigger on conveyor.handoffs; no row: never)';

CREATE TABLE conveyor.rep_loads (
    rep_id bigint NOT NULL,
    owned integer DEFAULT 0 NOT NULL,
    CONSTRAINT rep_loads_owned_check CHECK ((owned >= 0))
);

COMMENT ON TABLE conveyor.rep_loads IS 'accounts each rep owns in stage active, kept by triggers on accounts (no row: none)';

CREATE SEQUENCE conveyor.reps_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE conveyor.reps_id_seq OWNED BY conveyor.reps.id;

CREATE TABLE conveyor.routing_epochs (
    team_id bigint NOT NULL,
    epoch bigint DEFAULT 0 NOT NULL,
    bumped_at timestamp with time zone DEFAULT now() NOT NULL,
    snapshot_id bigint,
    snapshot_fingerprint bigint,
    handoffs_since_snapshot integer DEFAULT 0 NOT NULL
);

COMMENT ON TABLE conveyor.routing_epochs IS 'one row per team: routers lock it FOR UPDATE while they route the team; requeue_waiting bumps it';

CREATE TABLE conveyor.scan_runs (
    id bigint NOT NULL,
    team_id bigint NOT NULL,
    job_id bigint,
    trigger text NOT NULL,
    local_date date,
    started_at timestamp with time zone NOT NULL,
    finished_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    outcome jsonb NOT NULL,
    CONSTRAINT scan_runs_trigger_check CHECK ((trigger = ANY (ARRAY['schedule'::text, 'manual'::text])))
);

COMMENT ON TABLE conveyor.scan_runs IS 'every committed attachment scan, with its outcome';

CREATE SEQUENCE conveyor.scan_runs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE conveyor.scan_runs_id_seq OWNED BY conveyor.scan_runs.id;

CREATE TABLE conveyor.scan_schedule (
    team_id bigint NOT NULL,
    local_date date NOT NULL,
    due_at timestamp with time zone NOT NULL,
    job_id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

COMMENT ON TABLE conveyor.scan_schedule IS 'nightly scans scheduled, one per team and local date (the key that makes it once-only)';

CREATE TABLE conveyor.schema_migrations (
    version integer NOT NULL,
    file text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE SEQUENCE conveyor.teams_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE conveyor.teams_id_seq OWNED BY conveyor.teams.id;

ALTER TABLE ONLY conveyor.accounts ALTER COLUMN id SET DEFAULT nextval('conveyor.accounts_id_seq'::regclass);

ALTER TABLE ONLY conveyor.admin_audit ALTER COLUMN id SET DEFAULT nextval('conveyor.admin_audit_id_seq'::regclass);

ALTER TABLE ONLY conveyor.alerts ALTER COLUMN id SET DEFAULT nextval('conveyor.alerts_id_seq'::regclass);

ALTER TABLE ONLY conveyor.candidate_snapshots ALTER COLUMN id SET DEFAULT nextval('conveyor.candidate_snapshots_id_seq'::regclass);

ALTER TABLE ONLY conveyor.deals ALTER COLUMN id SET DEFAULT nextval('conveyor.deals_id_seq'::regclass);

ALTER TABLE ONLY conveyor.handoffs ALTER COLUMN id SET DEFAULT nextval('conveyor.handoffs_id_seq'::regclass);

ALTER TABLE ONLY conveyor.interactions ALTER COLUMN id SET DEFAULT nextval('conveyor.interactions_id_seq'::regclass);

ALTER TABLE ONLY conveyor.jobs ALTER COLUMN id SET DEFAULT nextval('conveyor.jobs_id_seq'::regclass);

ALTER TABLE ONLY conveyor.probes ALTER COLUMN id SET DEFAULT nextval('conveyor.probes_id_seq'::regclass);

ALTER TABLE ONLY conveyor.reps ALTER COLUMN id SET DEFAULT nextval('conveyor.reps_id_seq'::regclass);

ALTER TABLE ONLY conveyor.scan_runs ALTER COLUMN id SET DEFAULT nextval('conveyor.scan_runs_id_seq'::regclass);

ALTER TABLE ONLY conveyor.teams ALTER COLUMN id SET DEFAULT nextval('conveyor.teams_id_seq'::regclass);

ALTER TABLE ONLY conveyor.accounts
    ADD CONSTRAINT accounts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY conveyor.accounts
    ADD CONSTRAINT accounts_team_id_ref_key UNIQUE (team_id, ref);

ALTER TABLE ONLY conveyor.admin_audit
    ADD CONSTRAINT admin_audit_pkey PRIMARY KEY (id);

ALTER TABLE ONLY conveyor.alerts
    ADD CONSTRAINT alerts_pkey PRIMARY KEY (id);

ALTER TABLE ONLY conveyor.candidate_snapshots
    ADD CONSTRAINT candidate_snapshots_pkey PRIMARY KEY (id);

ALTER TABLE ONLY conveyor.deals
    ADD CONSTRAINT deals_pkey PRIMARY KEY (id);

ALTER TABLE ONLY conveyor.handoff_tallies
    ADD CONSTRAINT handoff_tallies_pkey PRIMARY KEY (team_id, kind);

ALTER TABLE ONLY conveyor.handoffs
    ADD CONSTRAINT handoffs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY conveyor.interactions
    ADD CONSTRAINT interactions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY conveyor.jobs
    ADD CONSTRAINT jobs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY conveyor.probes
    ADD CONSTRAINT probes_pkey PRIMARY KEY (id);

ALTER TABLE ONLY conveyor.rep_last_assigned
    ADD CONSTRAINT rep_last_assigned_pkey PRIMARY KEY (rep_id);

ALTER TABLE ONLY conveyor.rep_loads
    ADD CONSTRAINT rep_loads_pkey PRIMARY KEY (rep_id);

ALTER TABLE ONLY conveyor.reps
    ADD CONSTRAINT reps_pkey PRIMARY KEY (id);

ALTER TABLE ONLY conveyor.reps
    ADD CONSTRAINT reps_team_id_id_key UNIQUE (team_id, id);

ALTER TABLE ONLY conveyor.reps
    ADD CONSTRAINT reps_team_id_ref_key UNIQUE (team_id, ref);

ALTER TABLE ONLY conveyor.routing_epochs
    ADD CONSTRAINT routing_epochs_pkey PRIMARY KEY (team_id);

ALTER TABLE ONLY conveyor.scan_runs
    ADD CONSTRAINT scan_runs_pkey PRIMARY KEY (id);

ALTER TABLE ONLY conveyor.scan_schedule
    ADD CONSTRAINT scan_schedule_pkey PRIMARY KEY (team_id, local_date);

ALTER TABLE ONLY conveyor.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);

ALTER TABLE ONLY conveyor.teams
    ADD CONSTRAINT teams_name_key UNIQUE (name);

ALTER TABLE ONLY conveyor.teams
    ADD CONSTRAINT teams_pkey PRIMARY KEY (id);

CREATE INDEX accounts_hunter_id ON conveyor.accounts USING btree (hunter_id);

CREATE INDEX admin_audit_at ON conveyor.admin_audit USING btree (at);

CREATE INDEX alerts_account_id ON conveyor.alerts USING btree (account_id);

CREATE UNIQUE INDEX alerts_one_open ON conveyor.alerts USING btree (team_id, COALESCE(account_id, (0)::bigint), kind) WHERE (status <> 'resolved'::text);

CREATE INDEX alerts_team_id_status ON conveyor.alerts USING btree (team_id, status);

CREATE INDEX candidate_snapshots_team_id ON conveyor.candidate_snapshots USING btree (team_id);

CREATE INDEX deals_account_id_closed_at ON conveyor.deals USING btree (account_id, closed_at);

CREATE INDEX deals_rep_id ON conveyor.deals USING btree (rep_id);

CREATE INDEX handoffs_account_id_created_at ON conveyor.handoffs USING btree (account_id, created_at DESC);

CREATE INDEX handoffs_from_rep_id ON conveyor.handoffs USING btree (from_rep_id);

CREATE INDEX handoffs_snapshot ON conveyor.handoffs USING btree (snapshot_id, id) INCLUDE (to_rep_id, created_at) WHERE (snapshot_id IS NOT NULL);

CREATE INDEX handoffs_to_rep_id_created_at ON conveyor.handoffs USING btree (to_rep_id, created_at);

CREATE INDEX interactions_account_id_occurred_at ON conveyor.interactions USING btree (account_id, occurred_at);

CREATE INDEX interactions_rep_id ON conveyor.interactions USING btree (rep_id);

CREATE INDEX jobs_claim ON conveyor.jobs USING btree (priority, run_at, id) WHERE (state = ANY (ARRAY['available'::text, 'retryable'::text]));

CREATE INDEX jobs_claim_long ON conveyor.jobs USING btree (priority, run_at, id) WHERE ((state = ANY (ARRAY['available'::text, 'retryable'::text])) AND (kind = ANY (ARRAY['scan'::text, 'webhook'::text])));

CREATE INDEX jobs_claim_team ON conveyor.jobs USING btree (team_id, priority, run_at, id) WHERE ((state = ANY (ARRAY['available'::text, 'retryable'::text])) AND (team_id IS NOT NULL));

CREATE INDEX jobs_finished ON conveyor.jobs USING btree (finished_at) WHERE (state = ANY (ARRAY['succeeded'::text, 'cancelled'::text]));

CREATE UNIQUE INDEX jobs_unique_key ON conveyor.jobs USING btree (unique_key) WHERE (unique_key IS NOT NULL);

CREATE INDEX jobs_waiting ON conveyor.jobs USING btree (team_id) WHERE (state = 'waiting'::text);

CREATE INDEX jobs_waiting_run_at ON conveyor.jobs USING btree (run_at) WHERE (state = 'waiting'::text);

CREATE INDEX probes_job_id ON conveyor.probes USING btree (job_id);

CREATE INDEX reps_team_id_role ON conveyor.reps USING btree (team_id, role);

CREATE INDEX scan_runs_job_id ON conveyor.scan_runs USING btree (job_id);

CREATE INDEX scan_runs_team_id_finished_at ON conveyor.scan_runs USING btree (team_id, finished_at DESC);

CREATE TRIGGER accounts_after_delete AFTER DELETE ON conveyor.accounts REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor.accounts_after_write();

CREATE TRIGGER accounts_after_insert AFTER INSERT ON conveyor.accounts REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor.accounts_after_write();

CREATE TRIGGER accounts_after_update AFTER UPDATE ON conveyor.accounts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor.accounts_after_write();

CREATE TRIGGER accounts_default_name BEFORE INSERT OR UPDATE ON conveyor.accounts FOR EACH ROW WHEN ((new.name IS NULL)) EXECUTE FUNCTION conveyor.default_name_to_ref();

CREATE TRIGGER accounts_reset_loads AFTER TRUNCATE ON conveyor.accounts FOR EACH STATEMENT EXECUTE FUNCTION conveyor.accounts_reset_loads();

CREATE TRIGGER accounts_touch_updated_at BEFORE UPDATE ON conveyor.accounts FOR EACH ROW WHEN ((NOT (new.updated_at IS DISTINCT FROM old.updated_at))) EXECUTE FUNCTION conveyor.touch_updated_at();

CREATE TRIGGER alerts_publish_inserted AFTER INSERT ON conveyor.alerts REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor.alerts_publish();

CREATE TRIGGER alerts_publish_updated AFTER UPDATE ON conveyor.alerts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor.alerts_publish_changed();

CREATE TRIGGER handoffs_after_insert AFTER INSERT ON conveyor.handoffs REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor.handoffs_after_write();

CREATE TRIGGER handoffs_after_update AFTER UPDATE ON conveyor.handoffs REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor.handoffs_after_write();

CREATE TRIGGER jobs_notify_inserted AFTER INSERT ON conveyor.jobs REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor.jobs_notify_inserted();

CREATE TRIGGER reps_default_name BEFORE INSERT OR UPDATE ON conveyor.reps FOR EACH ROW WHEN ((new.name IS NULL)) EXECUTE FUNCTION conveyor.default_name_to_ref();

CREATE CONSTRAINT TRIGGER reps_keep_handoff_history AFTER DELETE ON conveyor.reps DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION conveyor.reps_keep_handoff_history();

CREATE TRIGGER reps_keep_managers_of_owned AFTER UPDATE ON conveyor.reps REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor.reps_keep_managers_of_owned();

CREATE TRIGGER reps_requeue_inserted AFTER INSERT ON conveyor.reps REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor.reps_requeue_inserted();

CREATE TRIGGER reps_requeue_updated AFTER UPDATE ON conveyor.reps REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor.reps_requeue_updated();

CREATE TRIGGER reps_touch_updated_at BEFORE UPDATE ON conveyor.reps FOR EACH ROW WHEN ((NOT (new.updated_at IS DISTINCT FROM old.updated_at))) EXECUTE FUNCTION conveyor.touch_updated_at();

CREATE TRIGGER teams_check_time_zone BEFORE INSERT OR UPDATE OF time_zone ON conveyor.teams FOR EACH ROW EXECUTE FUNCTION conveyor.check_team_time_zone();

CREATE TRIGGER teams_create_epoch AFTER INSERT ON conveyor.teams REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor.teams_create_epoch();

CREATE TRIGGER teams_requeue_updated AFTER UPDATE ON conveyor.teams REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION conveyor.teams_requeue_updated();

ALTER TABLE ONLY conveyor.accounts
    ADD CONSTRAINT accounts_hunter_fkey FOREIGN KEY (team_id, hunter_id) REFERENCES conveyor.reps(team_id, id);

ALTER TABLE ONLY conveyor.accounts
    ADD CONSTRAINT accounts_owner_fkey FOREIGN KEY (team_id, owner_id) REFERENCES conveyor.reps(team_id, id);

ALTER TABLE ONLY conveyor.accounts
    ADD CONSTRAINT accounts_team_id_fkey FOREIGN KEY (team_id) REFERENCES conveyor.teams(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.alerts
    ADD CONSTRAINT alerts_account_id_fkey FOREIGN KEY (account_id) REFERENCES conveyor.accounts(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.alerts
    ADD CONSTRAINT alerts_rep_id_fkey FOREIGN KEY (rep_id) REFERENCES conveyor.reps(id);

ALTER TABLE ONLY conveyor.alerts
    ADD CONSTRAINT alerts_team_id_fkey FOREIGN KEY (team_id) REFERENCES conveyor.teams(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.candidate_snapshots
    ADD CONSTRAINT candidate_snapshots_team_id_fkey FOREIGN KEY (team_id) REFERENCES conveyor.teams(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.deals
    ADD CONSTRAINT deals_account_id_fkey FOREIGN KEY (account_id) REFERENCES conveyor.accounts(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.deals
    ADD CONSTRAINT deals_rep_id_fkey FOREIGN KEY (rep_id) REFERENCES conveyor.reps(id);

ALTER TABLE ONLY conveyor.handoff_tallies
    ADD CONSTRAINT handoff_tallies_team_id_fkey FOREIGN KEY (team_id) REFERENCES conveyor.teams(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.handoffs
    ADD CONSTRAINT handoffs_account_id_fkey FOREIGN KEY (account_id) REFERENCES conveyor.accounts(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.interactions
    ADD CONSTRAINT interactions_account_id_fkey FOREIGN KEY (account_id) REFERENCES conveyor.accounts(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.interactions
    ADD CONSTRAINT interactions_rep_id_fkey FOREIGN KEY (rep_id) REFERENCES conveyor.reps(id);

ALTER TABLE ONLY conveyor.jobs
    ADD CONSTRAINT jobs_team_id_fkey FOREIGN KEY (team_id) REFERENCES conveyor.teams(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.rep_last_assigned
    ADD CONSTRAINT rep_last_assigned_rep_id_fkey FOREIGN KEY (rep_id) REFERENCES conveyor.reps(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.rep_loads
    ADD CONSTRAINT rep_loads_rep_id_fkey FOREIGN KEY (rep_id) REFERENCES conveyor.reps(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.reps
    ADD CONSTRAINT reps_team_id_fkey FOREIGN KEY (team_id) REFERENCES conveyor.teams(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.routing_epochs
    ADD CONSTRAINT routing_epochs_team_id_fkey FOREIGN KEY (team_id) REFERENCES conveyor.teams(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.scan_runs
    ADD CONSTRAINT scan_runs_team_id_fkey FOREIGN KEY (team_id) REFERENCES conveyor.teams(id) ON DELETE CASCADE;

ALTER TABLE ONLY conveyor.scan_schedule
    ADD CONSTRAINT scan_schedule_team_id_fkey FOREIGN KEY (team_id) REFERENCES conveyor.teams(id) ON DELETE CASCADE;
