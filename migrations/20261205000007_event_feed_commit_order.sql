-- The event feed (GET /eventos) is read in the order events' transactions began, and an
-- event is served only once every transaction older than its own has ended. Read by id
-- alone, a cursor could pass an event whose transaction took its id first but committed
-- after another's (ids are drawn at insert, not at commit), and that event was never
-- served to the merchant. `writer` is the inserting transaction's id; events written
-- before this migration have none (read as 0: they come first, and every transaction that
-- wrote them has ended). Setting a default does not rewrite the table.
ALTER TABLE outbox_events ADD COLUMN writer bigint;
ALTER TABLE outbox_events ALTER COLUMN writer SET DEFAULT pg_current_xact_id()::text::bigint;
