-- 003_queue_triggers.sql — waking the daemon and un-parking waiting handoffs.
--
-- * Inserting claimable jobs sends NOTIFY conveyor_jobs (empty payload; at
--   most one per transaction, delivered at commit). Worker updates of jobs do
--   not notify.
-- * conveyor.requeue_waiting(team) turns the team's 'waiting' jobs back into
--   'available' and notifies. Triggers call it whenever capacity may have
--   appeared, whether the change comes from the daemon or straight from SQL:
--   a manager added, capacity raised, someone back from away, a team resumed,
--   an account leaving a manager's active book.
--
-- Race with a router (the reason for conveyor.routing_epochs): a router that
-- finds nobody eligible must not park the job as 'waiting' after a concurrent
-- transaction added capacity but before that transaction's requeue could see
-- the waiting job. A router therefore holds the team's routing_epochs row
-- FOR UPDATE from before it reads reps until it commits (which also keeps two
-- routers from filling the same manager past capacity), and requeue_waiting
-- bumps that row first: a requeue that started earlier makes the router wait,
-- so it reads the new capacity; one that starts later waits for the router's
-- commit and then, in a new statement, sees the job it parked.

-- ---------------------------------------------------------------------------
-- wake-up on insert
-- ---------------------------------------------------------------------------

create function conveyor.jobs_notify_inserted()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    -- statement-level: one check per INSERT, however many rows; an
    -- INSERT ... ON CONFLICT DO NOTHING that inserted nothing stays quiet
    if exists (select 1 from new_rows where state in ('available', 'retryable')) then
        perform pg_notify('conveyor_jobs', '');
    end if;
    return null;
end
$$;

create trigger jobs_notify_inserted
    after insert on conveyor.jobs
    referencing new table as new_rows
    for each statement execute function conveyor.jobs_notify_inserted();

-- ---------------------------------------------------------------------------
-- requeue_waiting
-- ---------------------------------------------------------------------------

create function conveyor.requeue_waiting(p_team_id bigint)
returns integer
language plpgsql
volatile
set search_path = pg_catalog, pg_temp
as $$
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

comment on function conveyor.requeue_waiting(bigint) is
    'make the team''s waiting jobs available again (and notify); bumps routing_epochs; returns how many';

-- Every team has its epoch row from the start, so a router always has a row to lock.
create function conveyor.teams_create_epoch()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    insert into conveyor.routing_epochs (team_id)
    select id from new_rows
    on conflict (team_id) do nothing;
    return null;
end
$$;

create trigger teams_create_epoch
    after insert on conveyor.teams
    referencing new table as new_rows
    for each statement execute function conveyor.teams_create_epoch();

-- teams that exist already (none on a fresh database)
insert into conveyor.routing_epochs (team_id)
select id from conveyor.teams
on conflict (team_id) do nothing;

-- ---------------------------------------------------------------------------
-- triggers that requeue
--
-- Statement-level with transition tables: a bulk change does one requeue per
-- affected team, teams taken in id order so that concurrent bulk changes lock
-- the epoch rows in the same order.
-- ---------------------------------------------------------------------------

-- reps: a new account manager who can take accounts
create function conveyor.reps_requeue_inserted()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
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

create trigger reps_requeue_inserted
    after insert on conveyor.reps
    referencing new table as new_rows
    for each statement execute function conveyor.reps_requeue_inserted();

-- reps: capacity raised, back to active, away_until changed, role or skills
-- changed (a rep moved to another team counts for both teams).
create function conveyor.reps_requeue_updated()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
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

create trigger reps_requeue_updated
    after update on conveyor.reps
    referencing old table as old_rows new table as new_rows
    for each statement execute function conveyor.reps_requeue_updated();

-- teams: resumed (paused true -> false), or allowed to fall back to managers
-- without the needed skills
create function conveyor.teams_requeue_updated()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
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

create trigger teams_requeue_updated
    after update on conveyor.teams
    referencing old table as old_rows new table as new_rows
    for each statement execute function conveyor.teams_requeue_updated();

-- accounts: a manager's capacity is the number of accounts they own in stage
-- 'active', so it grows when such an account changes owner or leaves 'active'.
-- A waiting account whose needs changed may now find a manager too. (An
-- ordinary handoff, owner null -> manager on a 'won' account, matches
-- neither, so routing does not requeue its own team after each handoff.)
create function conveyor.accounts_requeue_updated()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    -- one requeue per affected team, in id order
    perform conveyor.requeue_waiting(t.team_id)
    from (
            select distinct o.team_id as team_id
            from new_rows as n
            join old_rows as o on o.id = n.id
            where (o.stage = 'active' and o.owner_id is not null
                   and (n.stage <> 'active' or n.owner_id is distinct from o.owner_id
                        or n.team_id <> o.team_id))
               or (n.needs is distinct from o.needs and n.stage <> 'active')
            order by o.team_id
    ) as t;
    return null;
end
$$;

create trigger accounts_requeue_updated
    after update on conveyor.accounts
    referencing old table as old_rows new table as new_rows
    for each statement execute function conveyor.accounts_requeue_updated();

-- accounts: deleting an owned active account frees its manager's capacity
create function conveyor.accounts_requeue_deleted()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    -- one requeue per affected team, in id order
    perform conveyor.requeue_waiting(t.team_id)
    from (
            select distinct o.team_id as team_id
            from old_rows as o
            where o.stage = 'active' and o.owner_id is not null
            order by o.team_id
    ) as t;
    return null;
end
$$;

create trigger accounts_requeue_deleted
    after delete on conveyor.accounts
    referencing old table as old_rows
    for each statement execute function conveyor.accounts_requeue_deleted();
