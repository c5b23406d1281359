-- 021_one_trigger_per_write.sql — one statement trigger per table and
-- kind of write on accounts and handoffs, where there were up to three.
--
-- Why: a handoff updates one account and inserts one handoffs row, and
-- each statement trigger is a PL/pgSQL call of its own (its search_path
-- set and reset, its transition tables opened). A single handoff ran five
-- of them: accounts_check_owners, accounts_requeue_updated and
-- accounts_track_loads on the update, handoffs_check_reps and
-- handoffs_tally on the insert. With one waiting win at a time that was
-- about a third of the handoff's time in the database. Each table now has
-- one trigger function that does what its triggers did, in the same order
-- (the owner check first, so a refused write does no other work; requeues
-- before loads, in routing's lock order), and
-- the owner check reads the rows it checks once: locked, then read.
--
-- Behaviour is unchanged: the same refusals (SQLSTATE, message, hint),
-- loads, requeues and tallies. The helpers the old functions called
-- (add_rep_loads, requeue_waiting) stay.

drop trigger accounts_check_owners_inserted on conveyor.accounts;
drop trigger accounts_check_owners_updated on conveyor.accounts;
drop trigger accounts_requeue_updated on conveyor.accounts;
drop trigger accounts_requeue_deleted on conveyor.accounts;
drop trigger accounts_track_loads_inserted on conveyor.accounts;
drop trigger accounts_track_loads_updated on conveyor.accounts;
drop trigger accounts_track_loads_deleted on conveyor.accounts;
drop function conveyor.accounts_check_owners();
drop function conveyor.accounts_requeue_updated();
drop function conveyor.accounts_requeue_deleted();
drop function conveyor.accounts_track_loads();

drop trigger handoffs_check_reps_inserted on conveyor.handoffs;
drop trigger handoffs_check_reps_updated on conveyor.handoffs;
drop trigger handoffs_tally_inserted on conveyor.handoffs;
drop function conveyor.handoffs_check_reps();
drop function conveyor.handoffs_tally();

-- What a statement on accounts implies:
-- * an owner it sets (or keeps, on an account it makes active) is an
--   account manager, else the statement is refused (019);
-- * each rep's load (accounts owned in stage active) follows (007);
-- * waiting handoffs of a team are requeued when capacity may have
--   appeared: an owned active account leaving its owner or the stage or the
--   team, or deleted, or a waiting account's needs changed (003). An
--   ordinary handoff (owner null to a manager on a won account) requeues
--   nothing.
create function conveyor.accounts_after_write()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
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

create trigger accounts_after_insert
    after insert on conveyor.accounts
    referencing new table as new_rows
    for each statement execute function conveyor.accounts_after_write();

create trigger accounts_after_update
    after update on conveyor.accounts
    referencing old table as old_rows new table as new_rows
    for each statement execute function conveyor.accounts_after_write();

create trigger accounts_after_delete
    after delete on conveyor.accounts
    referencing old table as old_rows
    for each statement execute function conveyor.accounts_after_write();

-- What a statement writing handoffs implies:
-- * the reps it names exist, and stay until it commits (each locked once,
--   FOR KEY SHARE, as a foreign key would; 008);
-- * an insert adds its handoffs to the team's tallies by kind (017).
create function conveyor.handoffs_after_write()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
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
    return null;
end
$$;

create trigger handoffs_after_insert
    after insert on conveyor.handoffs
    referencing new table as new_rows
    for each statement execute function conveyor.handoffs_after_write();

create trigger handoffs_after_update
    after update on conveyor.handoffs
    referencing new table as new_rows
    for each statement execute function conveyor.handoffs_after_write();
