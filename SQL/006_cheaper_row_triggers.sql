-- Row triggers that run only when they have something to do. A handoff
-- updates a thousand accounts per statement; a PL/pgSQL call per row for
-- each of these triggers cost about a quarter of the update's time.

-- A name left null defaults to the ref (a given name never fires it).
drop trigger accounts_default_name on conveyor.accounts;
create trigger accounts_default_name
    before insert or update on conveyor.accounts
    for each row when (new.name is null) execute function conveyor.default_name_to_ref();

drop trigger reps_default_name on conveyor.reps;
create trigger reps_default_name
    before insert or update on conveyor.reps
    for each row when (new.name is null) execute function conveyor.default_name_to_ref();

-- updated_at follows every update that does not set it itself.
drop trigger accounts_touch_updated_at on conveyor.accounts;
create trigger accounts_touch_updated_at
    before update on conveyor.accounts
    for each row when (new.updated_at is not distinct from old.updated_at)
    execute function conveyor.touch_updated_at();

drop trigger reps_touch_updated_at on conveyor.reps;
create trigger reps_touch_updated_at
    before update on conveyor.reps
    for each row when (new.updated_at is not distinct from old.updated_at)
    execute function conveyor.touch_updated_at();
