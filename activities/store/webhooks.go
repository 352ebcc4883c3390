package store

import "context"

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
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
