-- 016_audit_folding.sql — a burst of identical refused admin commands is one
-- audit row with a count.
--
-- Why: 3,000 refused `drain`s with 60 KB of arguments each wrote 182 MB of
-- audit rows in 37 s. The daemon now stores arguments cut to 4 KB, and a
-- refused command that the same user was refused within the last minute
-- (command, arguments and error alike) adds to that row's count instead of
-- writing another: every attempt is still accounted for.

alter table conveyor.admin_audit
    add column repeats integer not null default 1
        constraint admin_audit_repeats_check check (repeats >= 1),
    add column last_at timestamptz not null default now();

comment on column conveyor.admin_audit.repeats is 'how many identical refused attempts this row stands for (1 for every success)';
comment on column conveyor.admin_audit.last_at is 'when the last of them came (at is the first)';

-- rows from before stand for one attempt each, made at their own time
update conveyor.admin_audit set last_at = at;
