-- 007: each rep's load, kept up to date, and accounts that a handoff can
-- update in place.
--
-- Routing needs every account manager's load (accounts owned in stage
-- active). Counting them per routed batch grows with the accounts a team
-- has; conveyor.rep_loads keeps the count instead, maintained set-based by
-- statement triggers on accounts, whoever writes them (the router, the
-- admin socket, or an integration's plain SQL).
--
-- With the load kept here, no index needs owner_id or stage, so moving an
-- account to its new owner is a HOT update (no index entries written) when
-- its page has room; fillfactor leaves that room. Lookups by owner go
-- through the team (accounts_team_id_ref_key).

create table conveyor.rep_loads (
    rep_id bigint primary key references conveyor.reps (id) on delete cascade,
    owned  integer not null default 0 constraint rep_loads_owned_check check (owned >= 0)
);

comment on table conveyor.rep_loads is
    'accounts each rep owns in stage active, kept by triggers on accounts (no row: none)';

insert into conveyor.rep_loads (rep_id, owned)
select owner_id, count(*) from conveyor.accounts
where stage = 'active' and owner_id is not null
group by owner_id;

-- Adds one statement's changes. A rep deleted meanwhile (a team deleted
-- with its accounts) has no row left to lower.
create function conveyor.add_rep_loads(p_reps bigint[], p_deltas integer[])
returns void
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
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

create function conveyor.accounts_track_loads()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    if tg_op = 'INSERT' then
        perform conveyor.add_rep_loads(array_agg(owner_id), array_agg(1))
        from new_rows where stage = 'active' and owner_id is not null
        having count(*) > 0;
    elsif tg_op = 'DELETE' then
        perform conveyor.add_rep_loads(array_agg(owner_id), array_agg(-1))
        from old_rows where stage = 'active' and owner_id is not null
        having count(*) > 0;
    else
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

create trigger accounts_track_loads_inserted
    after insert on conveyor.accounts
    referencing new table as new_rows
    for each statement execute function conveyor.accounts_track_loads();

create trigger accounts_track_loads_updated
    after update on conveyor.accounts
    referencing old table as old_rows new table as new_rows
    for each statement execute function conveyor.accounts_track_loads();

create trigger accounts_track_loads_deleted
    after delete on conveyor.accounts
    referencing old table as old_rows
    for each statement execute function conveyor.accounts_track_loads();

create function conveyor.accounts_reset_loads()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    delete from conveyor.rep_loads;
    return null;
end
$$;

create trigger accounts_reset_loads
    after truncate on conveyor.accounts
    for each statement execute function conveyor.accounts_reset_loads();

drop index conveyor.accounts_owner_id_active;
drop index conveyor.accounts_team_id_stage;
alter table conveyor.accounts set (fillfactor = 85);
