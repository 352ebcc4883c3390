-- Columns and tables the send pipeline needs (spec email §1): why a send row failed, the props it
-- was rendered with (so the admin resend can render it again), and the ids of provider webhooks
-- already processed (a redelivered bounce must not count twice).
ALTER TABLE email_sends
  ADD COLUMN status_reason text, -- suppressed | unsubscribed | category_unsubscribed | provider_error
  ADD COLUMN props         jsonb;

CREATE TABLE provider_webhook_events (
  id          text PRIMARY KEY, -- the svix-id header
  provider    text NOT NULL,
  type        text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
