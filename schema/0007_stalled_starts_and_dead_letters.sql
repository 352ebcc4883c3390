-- The journey watchdog finds live enrolments that never got a run; an outbox row that ran out of
-- attempts (or failed permanently) is dead-lettered: copied into dead_letter_queue and marked here.
CREATE INDEX journey_states_unstarted_idx ON journey_states (created_at)
  WHERE run_id IS NULL AND status IN ('active', 'waiting');
ALTER TABLE outbox ADD COLUMN dead_lettered_at timestamptz;
