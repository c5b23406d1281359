-- 015_time_ranges.sql — the times the admin commands set stay within the
-- years 1970 to 9999.
--
-- Why: `rep.away … until=99999-01-01T00:00:00Z` (or the same by SQL) was
-- stored, and every reader of that rep then failed to decode it: rep.list
-- answered `internal` for the whole team. The socket now refuses such a
-- time, and these constraints refuse it from SQL. A time already stored
-- outside the range is first moved to its nearer end, which means the same
-- (away or snoozed for good, or back long ago), so that every later update
-- of the row (a rescan, rep.update) still passes the check.

update conveyor.reps
set away_until = greatest(least(away_until, timestamptz '9999-12-31 23:59:59+00'), timestamptz '1970-01-01 00:00:00+00')
where away_until not between timestamptz '1970-01-01 00:00:00+00' and timestamptz '9999-12-31 23:59:59+00';

update conveyor.alerts
set snoozed_until = greatest(least(snoozed_until, timestamptz '9999-12-31 23:59:59+00'), timestamptz '1970-01-01 00:00:00+00')
where snoozed_until not between timestamptz '1970-01-01 00:00:00+00' and timestamptz '9999-12-31 23:59:59+00';

alter table conveyor.reps
    add constraint reps_away_until_range
    check (away_until between timestamptz '1970-01-01 00:00:00+00' and timestamptz '9999-12-31 23:59:59+00');

alter table conveyor.alerts
    add constraint alerts_snoozed_until_range
    check (snoozed_until between timestamptz '1970-01-01 00:00:00+00' and timestamptz '9999-12-31 23:59:59+00');
