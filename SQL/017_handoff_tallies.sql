-- 017_handoff_tallies.sql — how many handoffs each team has had, by kind,
-- kept as they are written.
--
-- Why: `metrics` reports handoffs by kind, and counting conveyor.handoffs
-- (kept forever, millions of rows) at every scrape would read the whole
-- table. A statement-level trigger adds each insert's handoffs to one row
-- per team and kind instead, whoever writes them (the router, an
-- integration). Routing holds its team's lock, so workers of different
-- teams never wait on each other's row.

create table conveyor.handoff_tallies (
    team_id bigint not null references conveyor.teams (id) on delete cascade,
    kind text not null,
    handoffs bigint not null constraint handoff_tallies_handoffs_check check (handoffs >= 0),
    primary key (team_id, kind)
);

comment on table conveyor.handoff_tallies is 'handoffs per team and kind so far (kept by a trigger on conveyor.handoffs)';

create function conveyor.handoffs_tally()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    insert into conveyor.handoff_tallies as t (team_id, kind, handoffs)
    select a.team_id, n.kind, count(*)
    from new_rows n join conveyor.accounts a on a.id = n.account_id
    group by a.team_id, n.kind
    order by a.team_id, n.kind
    on conflict (team_id, kind) do update set handoffs = t.handoffs + excluded.handoffs;
    return null;
end
$$;

create trigger handoffs_tally_inserted
    after insert on conveyor.handoffs
    referencing new table as new_rows
    for each statement execute function conveyor.handoffs_tally();

-- the handoffs made before this migration
insert into conveyor.handoff_tallies (team_id, kind, handoffs)
select a.team_id, h.kind, count(*)
from conveyor.handoffs h join conveyor.accounts a on a.id = h.account_id
group by a.team_id, h.kind;
