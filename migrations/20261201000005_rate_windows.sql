-- Per-merchant request quotas for heavy lists: one counter per merchant, quota
-- and fixed window. A merchant's older windows are pruned when it opens a new one, so the
-- table holds about one row per merchant and quota.
CREATE TABLE rate_windows (
    merchant_id  uuid        NOT NULL REFERENCES merchants (id),
    quota        text        NOT NULL CHECK (quota IN ('list')),
    window_start timestamptz NOT NULL,
    used         integer     NOT NULL CHECK (used > 0),
    PRIMARY KEY (merchant_id, quota, window_start)
);

-- Each merchant's key-lookup token bucket (the DICT's anti-scan policy, per merchant), in
-- thousandths of a token; negative after misses, refilled on use.
CREATE TABLE dict_buckets (
    merchant_id  uuid        PRIMARY KEY REFERENCES merchants (id),
    tokens_milli bigint      NOT NULL,
    updated_at   timestamptz NOT NULL
);
