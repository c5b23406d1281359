-- 018_job_output.sql — what a finished job answered, for the command that
-- waits for it.
--
-- Why: long admin work runs on the queue's workers, not on the admin
-- socket's connections (`rep.depart` of a large book, `scan.run`), and the
-- command waits for its job. The job's result (the redistribution, the
-- scan's outcome) commits with its completion, in this column, so the
-- command reads it from the job whichever daemon's worker ran it.

alter table conveyor.jobs add column output jsonb;

comment on column conveyor.jobs.output is 'what the job answered when it succeeded (rep.depart: the redistribution; scan: the outcome), for the command waiting for it';
