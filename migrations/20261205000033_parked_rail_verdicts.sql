-- A notification that would reverse a decided transfer or refund is booked only once the
-- rail's status confirms it. When the status cannot judge it (unreachable, still
-- processing, an order the rail does not know), nothing is booked and the notification is
-- kept here for the reconciler, which reads the status again on each pass until it can
-- (booked, or set aside as an old word). It was booked as the rail's latest word: a guess.
CREATE TABLE parked_rail_verdicts (
    notification_id text PRIMARY KEY CHECK (length(notification_id) BETWEEN 1 AND 200),
    flow            text NOT NULL CHECK (flow IN ('transfer', 'refund')),
    -- The transfer's end-to-end id or the refund's rtrId.
    subject         text NOT NULL CHECK (subject ~ '^[a-zA-Z0-9]{32}$'),
    verdict         jsonb NOT NULL CHECK (jsonb_typeof(verdict) = 'object'),
    parked_at       timestamptz NOT NULL DEFAULT now(),
    -- What became of it once judged: the outcome's name.
    resolved_at     timestamptz,
    resolution      text CHECK (resolution IN ('APLICADA', 'CONTRADICAO_REGISTRADA', 'DUPLICADA', 'OBSOLETA')),
    CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);
CREATE INDEX parked_rail_verdicts_waiting ON parked_rail_verdicts (parked_at) WHERE resolved_at IS NULL;
