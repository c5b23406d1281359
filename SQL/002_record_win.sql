-- 002_record_win.sql — conveyor.record_win(), the integrations' entry point.
--
-- Marks an account as won by a hunter and enqueues its handoff job, inside the
-- caller's transaction (nothing here commits). The job insert fires the
-- wake-up NOTIFY trigger of 003, delivered when the caller commits.
--
-- Idempotent per (team, account_ref): once an account has a handoff job, every
-- later call returns that job's id and changes nothing. Every argument is
-- checked before anything is written, so an error leaves the database as it
-- was.
--
-- Errors (SQLSTATE):
--   22004 null team / account_ref / hunter_ref
--   22023 blank or too long account_ref, negative or non-finite value, bad needs,
--         hunter is an account_manager
--   22001 account_name longer than 1000 characters
--   23503 unknown team, unknown hunter

-- Quote a user-supplied value for an error message, cut to 100 characters so
-- a huge argument cannot produce a huge message.
create function conveyor.quote_for_message(v text)
returns text
language sql
immutable
parallel safe
set search_path = pg_catalog, pg_temp
as $$
    select case
        when v is null then 'NULL'
        when length(v) > 100 then '"' || left(v, 100) || '..."'
        else '"' || v || '"'
    end
$$;

create function conveyor.record_win(
    team         text,
    account_ref  text,
    hunter_ref   text,
    account_name text    default null,
    needs        text[]  default '{}',
    value        numeric default 0
)
returns bigint
language plpgsql
volatile
-- every name below is schema-qualified; the setting only guards against
-- objects the caller may have put on its own search_path
set search_path = pg_catalog, pg_temp
as $$
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

comment on function conveyor.record_win(text, text, text, text, text[], numeric) is
    'mark an account won by hunter_ref and enqueue its handoff; returns the handoff job id; idempotent per (team, account_ref)';
