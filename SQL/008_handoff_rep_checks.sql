-- 008: the reps a handoff names are checked once per statement.
--
-- handoffs.from_rep_id and to_rep_id were foreign keys: two lookups and two
-- row locks per handoff, about a quarter of a routed batch's time. The same
-- guarantee, set-based: a statement that writes handoffs locks each rep it
-- names once (FOR KEY SHARE, as a foreign key does) and refuses a missing
-- one; deleting a rep that handoffs name is refused at commit.

alter table conveyor.handoffs
    drop constraint handoffs_from_rep_id_fkey,
    drop constraint handoffs_to_rep_id_fkey;

create function conveyor.handoffs_check_reps()
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
    return null;
end
$$;

create trigger handoffs_check_reps_inserted
    after insert on conveyor.handoffs
    referencing new table as new_rows
    for each statement execute function conveyor.handoffs_check_reps();

create trigger handoffs_check_reps_updated
    after update on conveyor.handoffs
    referencing new table as new_rows
    for each statement execute function conveyor.handoffs_check_reps();

create function conveyor.reps_keep_handoff_history()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    if exists (select from conveyor.handoffs where from_rep_id = old.id)
       or exists (select from conveyor.handoffs where to_rep_id = old.id) then
        raise exception 'rep % cannot be deleted: handoffs name it (make it inactive instead)', old.id
            using errcode = 'foreign_key_violation';
    end if;
    return null;
end
$$;

-- Checked at commit, after every cascade: a team deleted with its reps,
-- accounts and their handoffs passes.
create constraint trigger reps_keep_handoff_history
    after delete on conveyor.reps
    deferrable initially deferred
    for each row execute function conveyor.reps_keep_handoff_history();
