-- The deliverer's claim (store.ClaimFirstAttempts): due new deliveries, oldest first. Rows
-- leave this index as soon as they are claimed, so it stays small however many were delivered.
CREATE INDEX webhook_deliveries_first_attempts_idx ON webhook_deliveries (next_retry_at) WHERE status = 'pending' AND attempt_count = 0;
