-- 022_last_assigned.sql — when each account manager was last handed an
-- account, kept as handoffs are written.
--
-- Why: routing reads every manager of the team for each batch, and each
-- one's last handoff was a lookup of its own in conveyor.handoffs (the
-- newest row of handoffs_to_rep_id_created_at): 400 index probes, about
-- 3.7 ms, for a single win in a team of 400. The handoffs trigger now
-- keeps the newest created_at per manager in one row each, written once
-- per manager a statement names (in rep id order), and routing joins it.
--
-- It only moves forward: a handoff deleted with its account, or an
-- integration's update that moves a handoff's created_at back, leaves a
-- manager's last assignment as it was. That is when the manager was last
-- handed work, which fair routing is about, whatever happened to the
-- account since.

create table conveyor.rep_last_assigned (
    rep_id bigint primary key references conveyor.reps (id) on delete cascade,
    last_assigned_at timestamptz not null
);

comment on table conveyor.rep_last_assigned is
    'when each rep was last handed an account (the newest handoff to them; kept by a trigger on conveyor.handoffs; no row: never)';

insert into conveyor.rep_last_assigned (rep_id, last_assigned_at)
select h.to_rep_id, max(h.created_at)
from conveyor.handoffs h
join conveyor.reps r on r.id = h.to_rep_id
group by h.to_rep_id;

-- What a statement writing handoffs implies:
-- * the reps it names exist, and stay until it commits (each locked once,
--   FOR KEY SHARE, as a foreign key would; 008);
-- * an insert adds its handoffs to the team's tallies by kind (017);
-- * each manager it hands to was last assigned no earlier than its newest
--   handoff here.
create or replace function conveyor.handoffs_after_write()
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

    if tg_op = 'INSERT' then
        insert into conveyor.handoff_tallies as t (team_id, kind, handoffs)
        select a.team_id, n.kind, count(*)
        from new_rows n join conveyor.accounts a on a.id = n.account_id
        group by a.team_id, n.kind
        order by a.team_id, n.kind
        on conflict (team_id, kind) do update set handoffs = t.handoffs + excluded.handoffs;
    end if;

    insert into conveyor.rep_last_assigned as l (rep_id, last_assigned_at)
    select to_rep_id, max(created_at)
    from new_rows
    group by to_rep_id
    order by to_rep_id
    on conflict (rep_id) do update set last_assigned_at = excluded.last_assigned_at
    where l.last_assigned_at < excluded.last_assigned_at;
    return null;
end
$$;
