-- 012_scan_settings.sql — what the nightly attachment-risk scan needs to be
-- stored: each team's rule settings and webhook, the once-per-local-day
-- schedule, and a record of every scan run.
--
-- The rule settings live with the team (not in the daemon's config file), so
-- every daemon scanning a team applies the same rules. Their defaults are the
-- contract's; their ranges are checked here too, so an integration writing
-- SQL cannot store a setting the scan could not apply.

alter table conveyor.teams
    add column window_days integer not null default 90
        constraint teams_window_days_check check (window_days between 1 and 3650),
    add column min_interactions integer not null default 6
        constraint teams_min_interactions_check check (min_interactions between 1 and 1000000),
    add column hunter_grace_days integer not null default 14
        constraint teams_hunter_grace_days_check check (hunter_grace_days between 0 and 3650),
    add column hunter_share numeric not null default 0.25
        constraint teams_hunter_share_check check (hunter_share > 0 and hunter_share <= 1),
    add column single_threaded_share numeric not null default 0.80
        constraint teams_single_threaded_share_check check (single_threaded_share > 0 and single_threaded_share <= 1),
    add column no_backup_days integer not null default 180
        constraint teams_no_backup_days_check check (no_backup_days between 1 and 3650),
    add column bow_tie_share numeric not null default 0.70
        constraint teams_bow_tie_share_check check (bow_tie_share > 0 and bow_tie_share <= 1),
    add column bow_tie_min_interactions integer not null default 6
        constraint teams_bow_tie_min_interactions_check check (bow_tie_min_interactions between 1 and 1000000),
    add column high_severity_share numeric not null default 0.25
        constraint teams_high_severity_share_check check (high_severity_share > 0 and high_severity_share <= 1),
    add column webhook_url text
        constraint teams_webhook_url_check
        check (length(webhook_url) <= 2000 and webhook_url ~ '^https?://[^[:space:][:cntrl:]]+$'),
    add column webhook_secret text
        constraint teams_webhook_secret_check
        check (length(webhook_secret) between 16 and 1000 and webhook_secret !~ '[[:cntrl:]]');

comment on column conveyor.teams.window_days is 'the scan looks at interactions of the last window_days days';
comment on column conveyor.teams.min_interactions is 'accounts with fewer interactions in the window are not scored';
comment on column conveyor.teams.hunter_grace_days is 'hunter_still_servicing: days after the handoff before the hunter''s share counts';
comment on column conveyor.teams.hunter_share is 'hunter_still_servicing: the hunter''s share of interactions since the handoff that raises it';
comment on column conveyor.teams.single_threaded_share is 'single_threaded: the top person''s share of the window''s interactions that raises it';
comment on column conveyor.teams.no_backup_days is 'no_backup: the period in which one person did every interaction';
comment on column conveyor.teams.bow_tie_share is 'bow_tie: the top (rep, contact) pair''s share of the window''s interactions that name a contact';
comment on column conveyor.teams.bow_tie_min_interactions is 'bow_tie: interactions naming a contact needed before it is judged';
comment on column conveyor.teams.high_severity_share is 'alerts on the top this share of the team''s accounts by money at stake are severity high';
comment on column conveyor.teams.webhook_url is 'http(s) address the nightly digest is POSTed to (null: none)';
comment on column conveyor.teams.webhook_secret is 'HMAC-SHA256 key of the digest''s Conveyor-Signature header; never shown back';

-- One row per team and local calendar day whose nightly scan has been
-- scheduled. Its primary key is what makes the nightly scan happen once per
-- team and local date however many daemons are running: a scheduler enqueues
-- the scan job only in the transaction whose insert here succeeded.
create table conveyor.scan_schedule (
    team_id    bigint not null references conveyor.teams (id) on delete cascade,
    local_date date not null,
    due_at     timestamptz not null,     -- the instant scan_local_time fell on that date
    job_id     bigint not null,          -- no FK: finished jobs get pruned
    created_at timestamptz not null default now(),
    primary key (team_id, local_date)
);

comment on table conveyor.scan_schedule is 'nightly scans scheduled, one per team and local date (the key that makes it once-only)';

-- One row per finished scan, written in the scan's own transaction: a scan
-- that did not commit left no row and no alert change.
create table conveyor.scan_runs (
    id          bigserial primary key,
    team_id     bigint not null references conveyor.teams (id) on delete cascade,
    job_id      bigint,                  -- no FK: finished jobs get pruned
    trigger     text not null
                constraint scan_runs_trigger_check check (trigger in ('schedule', 'manual')),
    local_date  date,                    -- the scheduled date; null for manual scans
    started_at  timestamptz not null,
    finished_at timestamptz not null default clock_timestamp(),
    outcome     jsonb not null           -- scanned, not_scored, opened, updated, resolved, duration_ms
);

comment on table conveyor.scan_runs is 'every committed attachment scan, with its outcome';

create index scan_runs_team_id_finished_at on conveyor.scan_runs (team_id, finished_at desc);
create index scan_runs_job_id on conveyor.scan_runs (job_id);

-- Scans and webhook deliveries run long (seconds, or an HTTP timeout), so
-- they have their own lane: one worker per daemon claims only them, through
-- this index, and the handoff workers never take them into a batch that
-- holds a team's routing lock (SQL/queries/queue.sql).
create index jobs_claim_long on conveyor.jobs (priority, run_at, id)
    where state in ('available', 'retryable') and kind in ('scan', 'webhook');
