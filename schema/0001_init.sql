-- Hogsend engine baseline: the whole data model (spec/data-contacts-ingest.md §1)
-- plus the dispatch outbox (DESIGN.md §4) and the worker heartbeat (spec/platform.md §12).
-- Conventions: uuid keys default to gen_random_uuid(); every timestamp is timestamptz;
-- there are no triggers, the application sets updated_at itself. History tables refer to a
-- contact by its text user key, never by foreign key, so they survive deletes and merges.

-- ---------------------------------------------------------------- enums
CREATE TYPE journey_status AS ENUM ('active', 'waiting', 'completed', 'failed', 'exited');
CREATE TYPE email_send_status AS ENUM (
  'queued', 'rendered', 'sent', 'delivered', 'opened', 'clicked', 'bounced', 'complained', 'failed');
CREATE TYPE import_job_status AS ENUM ('pending', 'processing', 'completed', 'failed');
CREATE TYPE alert_rule_type AS ENUM (
  'bounce_rate_exceeded', 'journey_failure_spike', 'delivery_issue', 'high_complaint_rate');
CREATE TYPE alert_channel AS ENUM ('webhook', 'slack', 'email');
CREATE TYPE dlq_status AS ENUM ('pending', 'retried', 'discarded');
CREATE TYPE bucket_membership_status AS ENUM ('active', 'left');
CREATE TYPE webhook_delivery_status AS ENUM ('pending', 'sending', 'delivered', 'failed', 'discarded');

-- ---------------------------------------------------------------- identity and contacts
CREATE TABLE contacts (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id text,
  external_id     text,
  email           text,
  anonymous_id    text,
  timezone        text,
  properties      jsonb DEFAULT '{}'::jsonb,
  first_seen_at   timestamptz NOT NULL DEFAULT now(),
  last_seen_at    timestamptz NOT NULL DEFAULT now(),
  deleted_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_email_idx ON contacts (email);
-- Identity keys are unique among live rows only: a merged or deleted row keeps its stale keys.
CREATE UNIQUE INDEX contacts_external_id_unique_idx ON contacts (external_id)
  WHERE external_id IS NOT NULL AND deleted_at IS NULL;
CREATE UNIQUE INDEX contacts_email_unique_idx ON contacts (lower(email))
  WHERE email IS NOT NULL AND deleted_at IS NULL;
CREATE UNIQUE INDEX contacts_anonymous_id_unique_idx ON contacts (anonymous_id)
  WHERE anonymous_id IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX contacts_created_at_idx ON contacts (created_at);

CREATE TABLE contact_aliases (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  contact_id      uuid NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
  alias_kind      text NOT NULL CHECK (alias_kind IN ('external', 'email', 'anonymous')),
  alias_value     text NOT NULL,
  from_contact_id uuid,
  reason          text NOT NULL CHECK (reason IN ('merge', 'promote')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contact_aliases_kind_value_idx ON contact_aliases (alias_kind, alias_value);
CREATE INDEX contact_aliases_contact_id_idx ON contact_aliases (contact_id);

CREATE TABLE user_events (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id text,
  user_id         text NOT NULL,
  event           text NOT NULL,
  properties      jsonb,
  idempotency_key text,
  occurred_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX user_events_user_id_idx ON user_events (user_id);
CREATE INDEX user_events_event_idx ON user_events (event);
CREATE INDEX user_events_occurred_at_idx ON user_events (occurred_at);
CREATE INDEX user_events_user_event_occurred_idx ON user_events (user_id, event, occurred_at);
CREATE UNIQUE INDEX user_events_idempotency_key_idx ON user_events (idempotency_key);

CREATE TABLE email_preferences (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id          text NOT NULL,
  email            text NOT NULL,
  unsubscribed_all boolean NOT NULL DEFAULT false,
  suppressed       boolean NOT NULL DEFAULT false,
  bounce_count     integer NOT NULL DEFAULT 0,
  categories       jsonb DEFAULT '{}'::jsonb,
  suppressed_at    timestamptz,
  last_bounce_at   timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX email_preferences_user_email_idx ON email_preferences (user_id, email);
CREATE INDEX email_preferences_email_idx ON email_preferences (email);

-- ---------------------------------------------------------------- journeys
CREATE TABLE journey_configs (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  journey_id text NOT NULL,
  enabled    boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX journey_configs_journey_id_idx ON journey_configs (journey_id);

CREATE TABLE journey_states (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id text,
  user_id         text NOT NULL,
  user_email      text NOT NULL,
  journey_id      text NOT NULL,
  -- Optional instance key of keyed journeys (one live run per contact and key); '' when unkeyed.
  journey_key     text NOT NULL DEFAULT '',
  current_node_id text NOT NULL DEFAULT 'start',
  status          journey_status NOT NULL DEFAULT 'active',
  workflow_id     text,
  run_id          text,
  context         jsonb DEFAULT '{}'::jsonb,
  error_message   text,
  entry_count     integer NOT NULL DEFAULT 1,
  completed_at    timestamptz,
  exited_at       timestamptz,
  deleted_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
-- One live run per (contact, journey, key); any number of finished runs, so re-entry works.
CREATE UNIQUE INDEX uq_user_journey_active ON journey_states (user_id, journey_id, journey_key)
  WHERE status IN ('active', 'waiting') AND deleted_at IS NULL;
CREATE INDEX journey_states_status_idx ON journey_states (status);
CREATE INDEX journey_states_workflow_id_idx ON journey_states (workflow_id);
CREATE INDEX journey_states_user_id_idx ON journey_states (user_id);
CREATE INDEX journey_states_journey_id_status_idx ON journey_states (journey_id, status);
CREATE INDEX journey_states_created_at_idx ON journey_states (created_at);

CREATE TABLE journey_logs (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  journey_state_id uuid NOT NULL REFERENCES journey_states (id) ON DELETE CASCADE,
  from_node_id     text,
  to_node_id       text,
  action           text NOT NULL,
  detail           jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX journey_logs_journey_state_id_idx ON journey_logs (journey_state_id, created_at);

-- ---------------------------------------------------------------- email sending and tracking
CREATE TABLE email_sends (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id  text,
  journey_state_id uuid REFERENCES journey_states (id),
  user_id          text,
  user_email       text,
  template_key     text,
  resend_id        text,
  from_email       text NOT NULL,
  to_email         text NOT NULL,
  subject          text NOT NULL,
  category         text,
  status           email_send_status NOT NULL DEFAULT 'queued',
  sent_at          timestamptz,
  delivered_at     timestamptz,
  opened_at        timestamptz,
  clicked_at       timestamptz,
  bounced_at       timestamptz,
  complained_at    timestamptz,
  bounce_type      text,
  bounce_reason    text,
  idempotency_key  text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_sends_to_email_idx ON email_sends (to_email);
CREATE INDEX email_sends_template_key_idx ON email_sends (template_key);
CREATE INDEX email_sends_status_idx ON email_sends (status);
CREATE INDEX email_sends_created_at_idx ON email_sends (created_at);
CREATE INDEX email_sends_journey_state_id_idx ON email_sends (journey_state_id);
CREATE INDEX email_sends_user_id_idx ON email_sends (user_id);
CREATE INDEX email_sends_resend_id_idx ON email_sends (resend_id) WHERE resend_id IS NOT NULL;
CREATE INDEX email_sends_freq_cap_idx ON email_sends (to_email, created_at, category);
CREATE UNIQUE INDEX email_sends_idempotency_key_idx ON email_sends (idempotency_key);

CREATE TABLE tracked_links (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  email_send_id uuid NOT NULL REFERENCES email_sends (id) ON DELETE CASCADE,
  original_url  text NOT NULL,
  click_count   integer NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tracked_links_email_send_id_idx ON tracked_links (email_send_id);

CREATE TABLE link_clicks (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tracked_link_id uuid NOT NULL REFERENCES tracked_links (id) ON DELETE CASCADE,
  ip_address      text,
  user_agent      text,
  clicked_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX link_clicks_tracked_link_id_idx ON link_clicks (tracked_link_id);
CREATE INDEX link_clicks_clicked_at_idx ON link_clicks (clicked_at);

-- Provider delivery-status webhooks are deduplicated by their message id.
CREATE TABLE email_provider_events (
  message_id    text PRIMARY KEY,
  email_send_id uuid REFERENCES email_sends (id) ON DELETE CASCADE,
  event_type    text NOT NULL,
  payload       jsonb,
  received_at   timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- buckets (segments)
CREATE TABLE bucket_configs (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  bucket_id     text NOT NULL,
  enabled       boolean NOT NULL DEFAULT true,
  criteria_hash text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX bucket_configs_bucket_id_idx ON bucket_configs (bucket_id);

CREATE TABLE bucket_memberships (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id   text,
  user_id           text NOT NULL,
  user_email        text,
  bucket_id         text NOT NULL,
  status            bucket_membership_status NOT NULL DEFAULT 'active',
  entered_at        timestamptz NOT NULL DEFAULT now(),
  left_at           timestamptz,
  expires_at        timestamptz,
  max_dwell_at      timestamptz,
  last_evaluated_at timestamptz,
  entry_count       integer NOT NULL DEFAULT 1,
  source            text,
  context           jsonb DEFAULT '{}'::jsonb,
  dwell_state       jsonb DEFAULT '{}'::jsonb,
  dwell_anchor_at   timestamptz,
  deleted_at        timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX uq_user_bucket_active ON bucket_memberships (user_id, bucket_id)
  WHERE status = 'active' AND deleted_at IS NULL;
CREATE INDEX bucket_memberships_bucket_status_idx ON bucket_memberships (bucket_id, status);
CREATE INDEX bucket_memberships_user_id_idx ON bucket_memberships (user_id);
CREATE INDEX bucket_memberships_last_evaluated_idx ON bucket_memberships (last_evaluated_at);
CREATE INDEX bucket_memberships_expires_at_idx ON bucket_memberships (expires_at);
CREATE INDEX bucket_memberships_max_dwell_at_idx ON bucket_memberships (max_dwell_at);
CREATE INDEX bucket_memberships_bucket_status_entered_idx ON bucket_memberships (bucket_id, status, entered_at);
CREATE INDEX bucket_memberships_bucket_status_id_idx ON bucket_memberships (bucket_id, status, id);
CREATE INDEX bucket_memberships_bucket_status_evaluated_idx
  ON bucket_memberships (bucket_id, status, last_evaluated_at);

-- ---------------------------------------------------------------- campaigns
CREATE TABLE campaigns (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id  text,
  name             text NOT NULL,
  status           text NOT NULL DEFAULT 'queued', -- queued|sending|sent|failed: text, so new states need no migration
  audience_kind    text NOT NULL CHECK (audience_kind IN ('list', 'bucket')),
  audience_id      text NOT NULL,
  template_key     text NOT NULL,
  props            jsonb DEFAULT '{}'::jsonb,
  from_email       text,
  subject          text,
  idempotency_key  text,
  total_recipients integer NOT NULL DEFAULT 0,
  sent_count       integer NOT NULL DEFAULT 0,
  skipped_count    integer NOT NULL DEFAULT 0,
  failed_count     integer NOT NULL DEFAULT 0,
  started_at       timestamptz,
  completed_at     timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaigns_status_idx ON campaigns (status);
CREATE INDEX campaigns_created_at_idx ON campaigns (created_at);
CREATE UNIQUE INDEX campaigns_idempotency_key_idx ON campaigns (idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- ---------------------------------------------------------------- bulk import
CREATE TABLE import_jobs (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  file_name      text,
  format         text NOT NULL CHECK (format IN ('csv', 'json')),
  status         import_job_status NOT NULL DEFAULT 'pending',
  total_rows     integer,
  processed_rows integer NOT NULL DEFAULT 0,
  failed_rows    integer NOT NULL DEFAULT 0,
  errors         jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX import_jobs_status_idx ON import_jobs (status);

-- The raw upload lives here so the import workflow only ever carries the job id.
CREATE TABLE import_job_payloads (
  job_id uuid PRIMARY KEY REFERENCES import_jobs (id) ON DELETE CASCADE,
  data   text NOT NULL
);

-- ---------------------------------------------------------------- security, audit, ops
CREATE TABLE api_keys (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id text,
  name            text NOT NULL,
  key_prefix      text NOT NULL,
  key_hash        text NOT NULL UNIQUE,
  scopes          jsonb NOT NULL DEFAULT '["read"]'::jsonb,
  created_by      text,
  last_used_at    timestamptz,
  revoked_at      timestamptz,
  expires_at      timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_keys_revoked_at_idx ON api_keys (revoked_at);
CREATE INDEX api_keys_created_at_idx ON api_keys (created_at);

CREATE TABLE audit_logs (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  actor        text NOT NULL,
  actor_key_id uuid,
  action       text NOT NULL,
  resource     text NOT NULL,
  resource_id  text,
  detail       jsonb,
  ip_address   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_logs_actor_idx ON audit_logs (actor);
CREATE INDEX audit_logs_resource_idx ON audit_logs (resource, resource_id);
CREATE INDEX audit_logs_created_at_idx ON audit_logs (created_at);

CREATE TABLE alert_rules (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name             text NOT NULL,
  type             alert_rule_type NOT NULL,
  threshold        jsonb NOT NULL,
  channel          alert_channel NOT NULL,
  channel_config   jsonb NOT NULL,
  enabled          boolean NOT NULL DEFAULT true,
  cooldown_minutes integer NOT NULL DEFAULT 60 CHECK (cooldown_minutes >= 1),
  last_fired_at    timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_type_idx ON alert_rules (type);
CREATE INDEX alert_rules_enabled_idx ON alert_rules (enabled);

CREATE TABLE alert_history (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Cascade (the reference has no action, so deleting a rule that ever fired failed).
  alert_rule_id   uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
  payload         jsonb,
  delivery_status text NOT NULL CHECK (delivery_status IN ('sent', 'failed')),
  error           text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_history_alert_rule_id_idx ON alert_history (alert_rule_id);
CREATE INDEX alert_history_created_at_idx ON alert_history (created_at);

CREATE TABLE dead_letter_queue (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  source      text NOT NULL,
  source_id   text,
  payload     jsonb NOT NULL,
  error       text NOT NULL,
  retry_count integer NOT NULL DEFAULT 0,
  status      dlq_status NOT NULL DEFAULT 'pending',
  retried_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letter_queue_source_idx ON dead_letter_queue (source);
CREATE INDEX dead_letter_queue_status_idx ON dead_letter_queue (status);
CREATE INDEX dead_letter_queue_created_at_idx ON dead_letter_queue (created_at);

-- ---------------------------------------------------------------- outbound webhooks
CREATE TABLE webhook_endpoints (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id  text,
  url              text NOT NULL,
  description      text,
  secret           text NOT NULL,
  secret_prefix    text NOT NULL,
  event_types      jsonb NOT NULL DEFAULT '[]'::jsonb,
  disabled         boolean NOT NULL DEFAULT false,
  last_delivery_at timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_organization_id_idx ON webhook_endpoints (organization_id);
CREATE INDEX webhook_endpoints_disabled_idx ON webhook_endpoints (disabled);

CREATE TABLE webhook_deliveries (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  endpoint_id           uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  organization_id       text,
  webhook_id            text NOT NULL,
  event_type            text NOT NULL,
  dedupe_key            text,
  payload               jsonb NOT NULL,
  status                webhook_delivery_status NOT NULL DEFAULT 'pending',
  attempt_count         integer NOT NULL DEFAULT 0,
  next_retry_at         timestamptz,
  last_attempt_at       timestamptz,
  response_status       integer,
  response_body_snippet text,
  delivered_at          timestamptz,
  last_error            text,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_endpoint_id_idx ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_status_next_retry_idx ON webhook_deliveries (status, next_retry_at);
CREATE UNIQUE INDEX webhook_deliveries_endpoint_dedupe_idx ON webhook_deliveries (endpoint_id, dedupe_key);

-- ---------------------------------------------------------------- dispatch outbox (DESIGN.md §4)
-- Everything that must reach Temporal or a webhook receiver is appended here in the same
-- transaction as the data that caused it, handed to the dispatcher after commit, and retried by
-- the sweeper with backoff until it is done. dedupe_key makes each intent idempotent.
CREATE TABLE outbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind            text NOT NULL,
  dedupe_key      text,
  payload         jsonb NOT NULL DEFAULT '{}'::jsonb,
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  dispatched_at   timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_pending_idx ON outbox (next_attempt_at, id) WHERE dispatched_at IS NULL;
CREATE UNIQUE INDEX outbox_dedupe_key_idx ON outbox (dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX outbox_dispatched_at_idx ON outbox (dispatched_at) WHERE dispatched_at IS NOT NULL;

-- ---------------------------------------------------------------- worker heartbeat
CREATE TABLE worker_heartbeats (
  worker_id      text PRIMARY KEY,
  task_queue     text NOT NULL,
  hostname       text NOT NULL,
  engine_version text NOT NULL,
  started_at     timestamptz NOT NULL DEFAULT now(),
  last_seen_at   timestamptz NOT NULL
);
CREATE INDEX worker_heartbeats_last_seen_at_idx ON worker_heartbeats (last_seen_at);
