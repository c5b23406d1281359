-- Named queries of webhook deliveries: the nightly digest, POSTed to a
-- team's webhook_url by jobs of kind `webhook`.

-- name: webhook_targets :many
-- The current webhook of each team of $1 that still exists (read afresh for
-- every attempt: an address or secret changed since the job was queued applies).
select id, name, webhook_url, webhook_secret
from conveyor.teams
where id = any($1::bigint[])
