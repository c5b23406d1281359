-- 019_owner_is_manager.sql — an account's owner is an account manager.
--
-- Why: `accounts_owner_fkey` keeps the owner in the account's team, but an
-- integration writing `owner_id` by hand could name a lead generator or a
-- closer, and `rep_loads` would then count a hunter's book as a manager's.
-- Refused where it is written, in the writer's own statement (SQLSTATE
-- 23514, naming the account, the rep and the role), rather than raised as
-- an alert afterwards: the integration learns of its mistake at once, its
-- transaction rolls back, and nothing the routing reads is ever wrong, so
-- no team has to be repaired or halted. The same holds from the reps'
-- side: a manager who owns active accounts keeps the role until they are
-- reassigned or departed (`conveyorctl rep.depart`). Checked once per
-- statement; an update checks only the rows whose owner it changes or that
-- it makes active, so accounts written before this migration are not
-- refused for other edits.

create function conveyor.accounts_check_owners()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    v_account text;
    v_rep text;
    v_role text;
begin
    -- The owners' rep rows are locked (FOR SHARE) before their role is read,
    -- so a concurrent role change waits for this statement's transaction, or
    -- this one for it and then sees the new role: the two checks cannot both
    -- pass on what the other has not committed yet.
    if tg_op = 'INSERT' then
        perform from conveyor.reps as r
        where r.id in (select owner_id from new_rows)
        order by r.id
        for share;
        select a.ref, r.ref, r.role into v_account, v_rep, v_role
        from new_rows as a
        join conveyor.reps as r on r.id = a.owner_id
        where r.role <> 'account_manager'
        limit 1;
    else
        -- An update checks the owners it changes, and those of accounts it makes active.
        perform from conveyor.reps as r
        where r.id in (
            select a.owner_id from new_rows as a
            where not exists (select from old_rows as o where o.id = a.id and o.owner_id = a.owner_id
                              and (o.stage = 'active' or a.stage <> 'active')))
        order by r.id
        for share;
        select a.ref, r.ref, r.role into v_account, v_rep, v_role
        from new_rows as a
        join conveyor.reps as r on r.id = a.owner_id
        where r.role <> 'account_manager'
          and not exists (select from old_rows as o where o.id = a.id and o.owner_id = a.owner_id
                          and (o.stage = 'active' or a.stage <> 'active'))
        limit 1;
    end if;
    if found then
        raise exception 'account %: owner % is a %, not an account manager', v_account, v_rep, v_role
            using errcode = 'check_violation',
                  hint = 'owners are set by handoffs; use conveyorctl account.reassign to move an account';
    end if;
    return null;
end
$$;

create trigger accounts_check_owners_inserted
    after insert on conveyor.accounts
    referencing new table as new_rows
    for each statement execute function conveyor.accounts_check_owners();

create trigger accounts_check_owners_updated
    after update on conveyor.accounts
    referencing old table as old_rows new table as new_rows
    for each statement execute function conveyor.accounts_check_owners();

create function conveyor.reps_keep_managers_of_owned()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
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

create trigger reps_keep_managers_of_owned
    after update on conveyor.reps
    referencing old table as old_rows new table as new_rows
    for each statement execute function conveyor.reps_keep_managers_of_owned();
