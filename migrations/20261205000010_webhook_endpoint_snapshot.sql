-- An endpoint gets the events whose transactions had not committed when it was created.
-- Compared by start time (the endpoint's `created_at` against the event's), an event whose
-- transaction began before the endpoint was created but committed after it was never sent
-- to it, although the merchant's endpoint existed before the event did. `created_snapshot`
-- is the snapshot of the statement that created the endpoint; an event is new to the
-- endpoint when its writer (outbox_events.writer) is not visible in that snapshot.
-- Endpoints created before this migration have none and keep the time comparison. Setting
-- a default does not rewrite the table.
ALTER TABLE webhook_endpoints ADD COLUMN created_snapshot pg_snapshot;
ALTER TABLE webhook_endpoints ALTER COLUMN created_snapshot SET DEFAULT pg_current_snapshot();
