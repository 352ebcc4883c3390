-- Campaigns beyond the reference: a durable resume point (a fresh run continues after the last
-- committed page, counts included), a send time, a local delivery time (each recipient at that
-- wall-clock time in their own zone), pacing, and why a campaign paused itself.
-- Status stays text: scheduled, paused and cancelled join queued|sending|sent|failed.
ALTER TABLE campaigns
  ADD COLUMN resume_cursor    text,
  ADD COLUMN resume_kind      text,
  ADD COLUMN scheduled_at     timestamptz,
  ADD COLUMN local_time       text, -- HH:MM
  ADD COLUMN sends_per_second integer,
  ADD COLUMN paused_reason    text,
  ADD COLUMN cancelled_at     timestamptz;
-- The reaper looks for campaigns that stopped progressing.
CREATE INDEX campaigns_live_updated_idx ON campaigns (updated_at) WHERE status IN ('queued', 'sending');
