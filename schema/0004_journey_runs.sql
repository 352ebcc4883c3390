-- Columns the journey runner needs (spec journeys §8): the wait a run is in, so ingest can wake
-- exactly the runs waiting for an event, and idempotent, ordered run logs.
ALTER TABLE journey_states
  ADD COLUMN waiting_event text,
  ADD COLUMN wait_token    text,
  ADD COLUMN wake_at       timestamptz;
CREATE INDEX journey_states_waiting_idx ON journey_states (user_id, waiting_event) WHERE status = 'waiting';

ALTER TABLE journey_logs
  ADD COLUMN seq  bigserial,
  ADD COLUMN step text; -- deterministic step key: a retried activity writes its log row once
CREATE UNIQUE INDEX journey_logs_step_idx ON journey_logs (journey_state_id, step) WHERE step IS NOT NULL;
DROP INDEX journey_logs_journey_state_id_idx;
CREATE INDEX journey_logs_journey_state_id_idx ON journey_logs (journey_state_id, created_at, seq);
