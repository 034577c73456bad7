-- A delivery the relay put on the queue is held for the queue (queued_until), apart from
-- the hold of the worker sending it (locked_until). With one hold, a worker took a delivery
-- whoever held it, so two copies of a queue message (SQS delivers at least once; the relay
-- enqueues again after its hold lapses) sent it twice at once and spent its attempts twice.
-- A worker now respects another worker's hold; the relay respects both.
ALTER TABLE webhook_deliveries ADD COLUMN queued_until timestamptz;
