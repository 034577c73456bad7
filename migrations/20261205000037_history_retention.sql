-- What grows with every movement and is read only while recent is pruned after 90 days, by
-- the reconciler's minute (`app::retention`), in batches: webhook attempts, deliveries that
-- will not be attempted again (finished, or parked for an endpoint turned off or deleted),
-- outbox events fanned out with no delivery left (the `/eventos` feed and the replays
-- reach back 90 days), and the rail's notification claims (the rail repeats a notification
-- for minutes, not months; a movement's own keys still refuse a second booking) but those of
-- divergent reports. Money's records (received Pix, transfers, refunds, the ledger) are kept.
--
-- The application role may delete those rows, and only those: a row younger than the
-- retention, a delivery still to be attempted or an event not yet fanned out is refused by
-- the database, whatever the application asks.
SELECT assert_indexes_valid();
-- Triggers lock their tables: give up after 5 s rather than queue the API behind a long
-- transaction, the tables taken in the order a booking takes them (claim, event, delivery,
-- attempt).
SET LOCAL lock_timeout = '5s';

CREATE FUNCTION history_retention() RETURNS interval LANGUAGE sql IMMUTABLE AS $$ SELECT interval '90 days' $$;

CREATE FUNCTION history_prune_guard() RETURNS trigger LANGUAGE plpgsql
    SET search_path = public, pg_temp AS $$
DECLARE
    row jsonb := to_jsonb(OLD);
    cutoff timestamptz := now() - history_retention();
    prunable boolean;
BEGIN
    prunable := CASE TG_TABLE_NAME
        WHEN 'webhook_attempts' THEN (row ->> 'started_at')::timestamptz < cutoff
        WHEN 'webhook_deliveries' THEN (row ->> 'created_at')::timestamptz < cutoff
                                       AND (row ->> 'status' <> 'PENDENTE' OR row ->> 'next_attempt_at' = 'infinity')
        WHEN 'outbox_events' THEN (row ->> 'created_at')::timestamptz < cutoff AND row ->> 'fanned_out_at' IS NOT NULL
        -- A divergent report's claim stays: it alone keeps a replay from being recorded (and
        -- announced) as a contradiction again.
        WHEN 'rail_notifications' THEN (row ->> 'received_at')::timestamptz < cutoff
                                       AND NOT starts_with(row ->> 'id', 'divergent-')
        ELSE false
    END;
    IF NOT coalesce(prunable, false) THEN
        RAISE EXCEPTION '% rows are deleted only once past the history''s retention (and finished)', TG_TABLE_NAME
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER history_prune_guard BEFORE DELETE ON rail_notifications
    FOR EACH ROW EXECUTE FUNCTION history_prune_guard();
CREATE TRIGGER history_prune_guard BEFORE DELETE ON outbox_events
    FOR EACH ROW EXECUTE FUNCTION history_prune_guard();
CREATE TRIGGER history_prune_guard BEFORE DELETE ON webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION history_prune_guard();
CREATE TRIGGER history_prune_guard BEFORE DELETE ON webhook_attempts
    FOR EACH ROW EXECUTE FUNCTION history_prune_guard();

GRANT DELETE ON rail_notifications, outbox_events, webhook_deliveries, webhook_attempts TO tucano_app;
