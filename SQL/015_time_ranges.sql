-- 015_time_ranges.sql — the times the admin commands set stay within the
-- years 1970 to 9999.
--
-- Why: `rep.away … until=99999-01-01T00:00:00Z` (or the same by SQL) was
-- stored, and every reader of that rep then failed to decode it: rep.list
-- answered `internal` for the whole team. The socket now refuses such a
-- time, and these constraints refuse it from SQL. They are NOT VALID so
-- that a database holding such a row from before still migrates; conveyor
-- reads every timestamp PostgreSQL can hold, so those rows stop nothing.

alter table conveyor.reps
    add constraint reps_away_until_range
    check (away_until between timestamptz '1970-01-01 00:00:00+00' and timestamptz '9999-12-31 23:59:59+00')
    not valid;

alter table conveyor.alerts
    add constraint alerts_snoozed_until_range
    check (snoozed_until between timestamptz '1970-01-01 00:00:00+00' and timestamptz '9999-12-31 23:59:59+00')
    not valid;
