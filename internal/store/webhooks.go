package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// InsertDeliveries fans one outbound event out to every enabled endpoint subscribed to its
// type: one pending delivery row each, sharing webhookID. A dedupe key already delivered to an
// endpoint is skipped there. It returns the new delivery ids.
func InsertDeliveries(ctx context.Context, db DBTX, eventType, webhookID string, dedupeKey *string, envelope []byte) ([]string, error) {
	rows, err := db.Query(ctx, `INSERT INTO webhook_deliveries (endpoint_id, webhook_id, event_type, dedupe_key, payload, status, next_retry_at)
		SELECT id, $2, $1, $3, $4::jsonb, 'pending', now() FROM webhook_endpoints
		WHERE NOT disabled AND organization_id IS NULL AND event_types @> jsonb_build_array($1::text)
		ON CONFLICT (endpoint_id, dedupe_key) DO NOTHING RETURNING id::text`, eventType, webhookID, dedupeKey, string(envelope))
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
