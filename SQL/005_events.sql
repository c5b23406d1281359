-- 005: events for `watch` subscribers and other systems.
--
-- Channel conveyor_events carries small JSON payloads:
--   {"type": "handoffs", "team_id": …, "first_id": …, "last_id": …, "count": …}
--       sent by the router once per routed batch (SQL/queries/handoff.sql);
--   {"type": "alerts", "ids": [...]} (at most 50 ids; larger statements send
--       {"type": "alerts", "count": N} instead), sent here whenever alerts
--       are opened, updated or resolved.
-- Notifications are delivered at commit and never for rolled-back work.

create function conveyor.alerts_publish()
returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    v_count integer;
begin
    select count(*) into v_count from new_rows;
    if v_count = 0 then
        return null;
    elsif v_count <= 50 then
        perform pg_notify('conveyor_events', json_build_object(
            'type', 'alerts', 'ids', (select json_agg(id order by id) from new_rows))::text);
    else
        perform pg_notify('conveyor_events', json_build_object('type', 'alerts', 'count', v_count)::text);
    end if;
    return null;
end
$$;

create trigger alerts_publish_inserted
    after insert on conveyor.alerts
    referencing new table as new_rows
    for each statement execute function conveyor.alerts_publish();

create trigger alerts_publish_updated
    after update on conveyor.alerts
    referencing new table as new_rows
    for each statement execute function conveyor.alerts_publish();
