-- 026_tags_check_plpgsql.sql — conveyor.tags_ok in PL/pgSQL: the same
-- answers, without planning a query on every row it checks.
--
-- Why: tags_ok backs the CHECK constraints on accounts.needs and
-- reps.skills, so every write of an account runs it (record_win twice, each
-- handoff once). As a SQL function with a subquery it cannot be inlined,
-- and PostgreSQL planned its body again in every statement: 5,687 plans in
-- 6,063 calls during `conveyor-bench handoff-latency` (pg_stat_statements
-- with track_planning), 40 to 57 µs a single-row write. PL/pgSQL keeps its
-- expressions prepared for the session and checks each tag with a simple
-- expression: 5,000 single-row inserts into a table with the constraint took
-- 33 to 57 ms instead of 216 to 300 ms, and a 50,000-row insert half as long.
-- Answers are unchanged (NULL list, empty list, NULL, blank or long tag, too
-- many tags, two dimensions).

create or replace function conveyor.tags_ok(tags text[], max_count integer)
returns boolean
language plpgsql
immutable
parallel safe
set search_path = pg_catalog, pg_temp
as $$
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
