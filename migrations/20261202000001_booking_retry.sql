-- A received Pix is booked optimistically, in one autocommitted statement, from what was
-- read just before it without locks (the key's owner, the charge). The statement re-checks
-- what it relies on as it writes; when something changed in between (the charge was paid,
-- revised or removed; another notification already brought the same end-to-end id), it
-- calls this function, whose error undoes the whole statement, and the credit is booked
-- again in an explicit transaction under the charge's row lock. SQLSTATE TU001 is ours:
-- the application retries on it and on nothing else.
CREATE FUNCTION booking_retry(reason text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'optimistic booking must be retried under lock: %', reason USING ERRCODE = 'TU001';
END $$;
