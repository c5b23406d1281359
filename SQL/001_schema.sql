-- 001_schema.sql — conveyor's tables, constraints and indexes.
--
-- The SQL surface of docs/sql.md: integrations read and write these tables
-- directly. Every column beyond the documented core has a default, so an
-- INSERT that names only those columns works. Applied by `conveyord migrate` in its
-- own transaction (no BEGIN/COMMIT here). `conveyor.schema_migrations` is
-- created by the migrator itself, not here.

create schema if not exists conveyor;

comment on schema conveyor is
    'conveyor: hands won clients to account managers and watches for attachment (reference: docs/sql.md)';

-- ---------------------------------------------------------------------------
-- Helpers used by constraints and triggers
-- ---------------------------------------------------------------------------

-- True when a text[] is a usable list of tags (skills, needs): one-dimensional,
-- at most max_count elements, each non-null, non-blank and at most 100
-- characters. Depends only on its arguments, so IMMUTABLE is honest.
create function conveyor.tags_ok(tags text[], max_count integer)
returns boolean
language sql
immutable
parallel safe
set search_path = pg_catalog, pg_temp
as $$
    select tags is null
        or (coalesce(array_ndims(tags), 1) = 1
            and cardinality(tags) <= max_count
            and not exists (
                select 1
                from unnest(tags) as t(tag)
                where tag is null or tag !~ '[^[:space:]]' or length(tag) > 100))
$$;

comment on function conveyor.tags_ok(text[], integer) is
    'true when every tag is non-null, non-blank, <= 100 chars, and there are at most max_count of them';

-- BEFORE UPDATE: keep updated_at current, whoever writes the row.
create function conveyor.touch_updated_at()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    new.updated_at := now();
    return new;
end
$$;

-- BEFORE INSERT OR UPDATE on reps and accounts: a missing name defaults to the
-- ref, so the column can be NOT NULL without forcing integrations to send it.
create function conveyor.default_name_to_ref()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    if new.name is null then
        new.name := new.ref;
    end if;
    return new;
end
$$;

-- BEFORE INSERT OR UPDATE OF time_zone on teams: time_zone must be a zone
-- PostgreSQL knows by that exact name (IANA, e.g. 'Europe/Berlin'). A CHECK
-- cannot consult pg_timezone_names (not immutable), hence a trigger.
create function conveyor.check_team_time_zone()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    if not exists (select 1 from pg_catalog.pg_timezone_names where name = new.time_zone) then
        raise exception 'unknown time zone "%"', left(new.time_zone, 100)
            using errcode = 'invalid_parameter_value',   -- 22023
                  hint = 'Use an IANA time zone name such as "Europe/Berlin" or "UTC".';
    end if;
    return new;
end
$$;

-- ---------------------------------------------------------------------------
-- teams
-- ---------------------------------------------------------------------------

create table conveyor.teams (
    id                  bigserial primary key,
    name                text not null
                        constraint teams_name_check
                        check (length(name) between 1 and 200 and name ~ '[^[:space:]]'),
    time_zone           text not null default 'UTC',          -- validated by trigger
    scan_local_time     time not null default '02:00'
                        constraint teams_scan_local_time_check
                        check (scan_local_time < '24:00'),    -- type time accepts 24:00
    paused              boolean not null default false,
    skills_fallback     boolean not null default false,
    low_value_threshold numeric not null default 0
                        constraint teams_low_value_threshold_check
                        check (low_value_threshold >= 0 and low_value_threshold < 'infinity'),
    created_at          timestamptz not null default now(),
    constraint teams_name_key unique (name)
);

comment on table conveyor.teams is 'a sales team: its reps, accounts, routing and scan settings';
comment on column conveyor.teams.time_zone is 'IANA zone name; the nightly scan runs at scan_local_time in this zone';
comment on column conveyor.teams.paused is 'true: handoffs wait (jobs stay waiting) until the team is resumed';
comment on column conveyor.teams.skills_fallback is 'true: when no manager covers an account''s needs, route among managers without them (said in the explanation)';
comment on column conveyor.teams.low_value_threshold is 'alerts on accounts whose money at stake is below this are severity low';

create trigger teams_check_time_zone
    before insert or update of time_zone on conveyor.teams
    for each row execute function conveyor.check_team_time_zone();

-- ---------------------------------------------------------------------------
-- reps
-- ---------------------------------------------------------------------------

create table conveyor.reps (
    id               bigserial primary key,
    team_id          bigint not null references conveyor.teams (id) on delete cascade,
    ref              text not null
                     constraint reps_ref_check
                     check (length(ref) between 1 and 200 and ref ~ '[^[:space:]]'),
    name             text not null                            -- defaults to ref (trigger)
                     constraint reps_name_check check (length(name) <= 1000),
    role             text not null
                     constraint reps_role_check
                     check (role in ('lead_generator', 'closer', 'account_manager')),
    capacity         integer not null default 0
                     constraint reps_capacity_check check (capacity >= 0),
    skills           text[] not null default '{}'
                     constraint reps_skills_check check (conveyor.tags_ok(skills, 100)),
    active           boolean not null default true,
    away_until       timestamptz,                             -- null = present
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint reps_team_id_ref_key unique (team_id, ref),
    -- target of the composite foreign keys that keep an account's hunter and
    -- owner in the account's own team
    constraint reps_team_id_id_key unique (team_id, id)
);

comment on table conveyor.reps is 'sales people; acquisition roles (lead_generator, closer) hunt, account_manager farms';
comment on column conveyor.reps.name is 'display name; defaults to ref when not given';
comment on column conveyor.reps.capacity is 'how many accounts in stage active an account_manager may own';

create index reps_team_id_role on conveyor.reps (team_id, role);

create trigger reps_default_name
    before insert or update on conveyor.reps
    for each row execute function conveyor.default_name_to_ref();

create trigger reps_touch_updated_at
    before update on conveyor.reps
    for each row execute function conveyor.touch_updated_at();

-- ---------------------------------------------------------------------------
-- accounts
-- ---------------------------------------------------------------------------

create table conveyor.accounts (
    id             bigserial primary key,
    team_id        bigint not null references conveyor.teams (id) on delete cascade,
    ref            text not null
                   constraint accounts_ref_check
                   check (length(ref) between 1 and 200 and ref ~ '[^[:space:]]'),
    name           text not null                              -- defaults to ref (trigger)
                   constraint accounts_name_check check (length(name) <= 1000),
    stage          text not null default 'lead'
                   constraint accounts_stage_check
                   check (stage in ('lead', 'qualified', 'won', 'active', 'churned')),
    needs          text[] not null default '{}'
                   constraint accounts_needs_check check (conveyor.tags_ok(needs, 50)),
    value          numeric not null default 0
                   -- 'infinity' also excludes NaN, which sorts above it
                   constraint accounts_value_check check (value >= 0 and value < 'infinity'),
    hunter_id      bigint,
    owner_id       bigint,
    won_at         timestamptz,
    handed_off_at  timestamptz,
    handoff_job_id bigint,          -- no FK: finished jobs get pruned
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    constraint accounts_team_id_ref_key unique (team_id, ref),
    -- hunter and owner must belong to the account's team (MATCH SIMPLE: a
    -- null hunter_id/owner_id is not checked)
    constraint accounts_hunter_fkey foreign key (team_id, hunter_id)
        references conveyor.reps (team_id, id),
    constraint accounts_owner_fkey foreign key (team_id, owner_id)
        references conveyor.reps (team_id, id),
    -- the conveyor never hands a client back to the person who won it
    constraint accounts_owner_not_hunter check (owner_id <> hunter_id)   -- passes when either is null
);

comment on table conveyor.accounts is 'clients and prospects moving through the conveyor';
comment on column conveyor.accounts.name is 'display name; defaults to ref when not given';
comment on column conveyor.accounts.needs is 'skills the client requires; routing picks managers whose skills cover them';
comment on column conveyor.accounts.value is 'expected yearly margin; alert severity uses it when there are no deals';
comment on column conveyor.accounts.hunter_id is 'the acquisition rep who won the account';
comment on column conveyor.accounts.owner_id is 'the current account manager';
comment on column conveyor.accounts.handoff_job_id is 'the handoff job record_win enqueued (kept here so record_win stays idempotent after the job is pruned)';

create index accounts_owner_id_active on conveyor.accounts (owner_id) where stage = 'active';
create index accounts_team_id_stage on conveyor.accounts (team_id, stage);
create index accounts_hunter_id on conveyor.accounts (hunter_id);

create trigger accounts_default_name
    before insert or update on conveyor.accounts
    for each row execute function conveyor.default_name_to_ref();

create trigger accounts_touch_updated_at
    before update on conveyor.accounts
    for each row execute function conveyor.touch_updated_at();

-- ---------------------------------------------------------------------------
-- interactions: who really works the account (the attachment scan's input)
-- ---------------------------------------------------------------------------

create table conveyor.interactions (
    id          bigserial primary key,
    account_id  bigint not null references conveyor.accounts (id) on delete cascade,
    rep_id      bigint not null references conveyor.reps (id),
    occurred_at timestamptz not null default now(),
    kind        text not null                 -- open set: call, email, meeting, deal, shipment, ...
                constraint interactions_kind_check check (length(kind) between 1 and 50),
    contact     text                          -- client-side person, optional
                constraint interactions_contact_check check (length(contact) <= 1000),
    created_at  timestamptz not null default now()
);

comment on table conveyor.interactions is 'calls, emails, meetings, shipments...: who works the account';

create index interactions_account_id_occurred_at on conveyor.interactions (account_id, occurred_at);
create index interactions_rep_id on conveyor.interactions (rep_id);

-- ---------------------------------------------------------------------------
-- deals: the accounting view (revenue and margin)
-- ---------------------------------------------------------------------------

create table conveyor.deals (
    id         bigserial primary key,
    account_id bigint not null references conveyor.accounts (id) on delete cascade,
    rep_id     bigint references conveyor.reps (id),   -- nullable: booked by nobody in particular
    closed_at  timestamptz not null default now(),
    -- may be negative (credit notes, loss-making deals); must be finite
    amount     numeric not null
               constraint deals_amount_check check (amount > '-infinity' and amount < 'infinity'),
    margin     numeric not null
               constraint deals_margin_check check (margin > '-infinity' and margin < 'infinity'),
    created_at timestamptz not null default now()
);

comment on table conveyor.deals is 'closed deals; trailing-12-month margin drives alert severity';

create index deals_account_id_closed_at on conveyor.deals (account_id, closed_at);
create index deals_rep_id on conveyor.deals (rep_id);

-- ---------------------------------------------------------------------------
-- handoffs: one row per change of owner, with the routing explanation
-- ---------------------------------------------------------------------------

create table conveyor.handoffs (
    id          bigserial primary key,
    account_id  bigint not null references conveyor.accounts (id) on delete cascade,
    from_rep_id bigint references conveyor.reps (id),          -- null: nobody held it before
    to_rep_id   bigint not null references conveyor.reps (id),
    kind        text not null
                constraint handoffs_kind_check check (kind in ('auto', 'manual', 'redistribution')),
    created_at  timestamptz not null default now(),
    explanation jsonb not null default '{}',
    constraint handoffs_not_to_self check (from_rep_id <> to_rep_id)
);

comment on table conveyor.handoffs is 'every change of an account''s owner';
comment on column conveyor.handoffs.explanation is 'every candidate considered, why each was excluded, the rule that chose';

create index handoffs_account_id_created_at on conveyor.handoffs (account_id, created_at desc);
-- routing's least-recently-assigned tie-break: max(created_at) per manager
create index handoffs_to_rep_id_created_at on conveyor.handoffs (to_rep_id, created_at);
create index handoffs_from_rep_id on conveyor.handoffs (from_rep_id);

-- ---------------------------------------------------------------------------
-- alerts: attachment findings and routing problems
-- ---------------------------------------------------------------------------

create table conveyor.alerts (
    id              bigserial primary key,
    team_id         bigint not null references conveyor.teams (id) on delete cascade,
    account_id      bigint references conveyor.accounts (id) on delete cascade,
    rep_id          bigint references conveyor.reps (id),   -- the person the account hangs on
    kind            text not null                           -- hunter_still_servicing, single_threaded, no_backup, no_eligible_manager, ...
                    constraint alerts_kind_check check (length(kind) between 1 and 100),
    severity        text not null
                    constraint alerts_severity_check check (severity in ('low', 'medium', 'high')),
    status          text not null default 'open'
                    constraint alerts_status_check
                    check (status in ('open', 'acknowledged', 'snoozed', 'resolved')),
    first_seen_at   timestamptz not null default now(),
    last_seen_at    timestamptz not null default now(),
    resolved_at     timestamptz,
    details         jsonb not null default '{}',
    snoozed_until   timestamptz,
    acknowledged_at timestamptz
);

comment on table conveyor.alerts is 'one open alert per (account, kind); a rescan updates it, a cleared condition resolves it';
comment on column conveyor.alerts.details is 'the figures behind the alert';

-- One not-yet-resolved alert per (team, account, kind); team-wide alerts have
-- a null account_id, folded to 0 so they are unique too. Upserts must infer it
-- with: on conflict (team_id, coalesce(account_id, 0), kind) where status <> 'resolved'
create unique index alerts_one_open
    on conveyor.alerts (team_id, coalesce(account_id, 0), kind)
    where status <> 'resolved';
create index alerts_team_id_status on conveyor.alerts (team_id, status);
create index alerts_account_id on conveyor.alerts (account_id);

-- ---------------------------------------------------------------------------
-- jobs: the work queue (its shape is relied on by the Swift queue code)
-- ---------------------------------------------------------------------------

create table conveyor.jobs (
    id           bigserial primary key,
    kind         text not null check (length(kind) between 1 and 100),
    state        text not null default 'available'
                 check (state in ('available', 'running', 'waiting', 'succeeded',
                                  'retryable', 'dead', 'cancelled')),
    priority     smallint not null default 0,          -- lower runs first
    run_at       timestamptz not null default now(),
    attempts     integer not null default 0,
    max_attempts integer not null default 20 check (max_attempts > 0),
    unique_key   text,                                 -- a second enqueue with the same key is a no-op
    payload      jsonb not null default '{}',
    last_error   text,
    team_id      bigint references conveyor.teams (id) on delete cascade,   -- nullable
    created_at   timestamptz not null default now(),
    attempted_at timestamptz,
    finished_at  timestamptz
);

comment on table conveyor.jobs is 'the work queue; waiting = blocked until capacity appears (see requeue_waiting)';
comment on column conveyor.jobs.unique_key is 'enqueue with on conflict (unique_key) where unique_key is not null do nothing; ''handoff:<account id>'' is reserved for record_win';

-- claim order: lower priority first, then oldest run_at, then id
create index jobs_claim on conveyor.jobs (priority, run_at, id)
    where state in ('available', 'retryable');
create unique index jobs_unique_key on conveyor.jobs (unique_key)
    where unique_key is not null;
create index jobs_waiting on conveyor.jobs (team_id)
    where state = 'waiting';
-- pruning of finished jobs
create index jobs_finished on conveyor.jobs (finished_at)
    where state in ('succeeded', 'cancelled');

-- ---------------------------------------------------------------------------
-- routing_epochs: closes the race between "capacity appeared" and "a router
-- just decided nobody is eligible" (see 003_queue_triggers.sql)
-- ---------------------------------------------------------------------------

create table conveyor.routing_epochs (
    team_id   bigint primary key references conveyor.teams (id) on delete cascade,
    epoch     bigint not null default 0,
    bumped_at timestamptz not null default now()
);

comment on table conveyor.routing_epochs is
    'one row per team: routers lock it FOR UPDATE while they route the team; requeue_waiting bumps it';

-- ---------------------------------------------------------------------------
-- admin_audit: every state-changing admin command (who, what, result)
-- ---------------------------------------------------------------------------

create table conveyor.admin_audit (
    id         bigserial primary key,
    at         timestamptz not null default now(),
    uid        integer,
    pid        integer,
    role       text,
    command    text not null,
    args       jsonb not null default '{}',
    ok         boolean not null,
    error_code text
);

comment on table conveyor.admin_audit is 'state-changing admin socket commands: peer uid/pid and role, command, args, outcome';

create index admin_audit_at on conveyor.admin_audit (at);
