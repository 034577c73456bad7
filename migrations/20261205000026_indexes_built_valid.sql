-- The indexes built concurrently just before (20261205000024 and 25) must be valid: a build
-- that failed leaves an invalid index, which IF NOT EXISTS would keep for good.
SELECT assert_indexes_valid();
