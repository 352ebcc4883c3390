package store

import (
	"context"
	"strconv"
	"time"

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

// Delivery is a webhook_deliveries row as an attempt needs it. Payload is the stored envelope's
// bytes exactly as Postgres returns them (jsonb text: its canonical key order).
type Delivery struct {
	ID, EndpointID, WebhookID, EventType, Status string
	AttemptCount                                 int
	NextRetryAt                                  *time.Time
	Payload                                      []byte
}

// DeliveryByID reads a delivery.
func DeliveryByID(ctx context.Context, db DBTX, id string) (Delivery, error) {
	var d Delivery
	err := db.QueryRow(ctx, `SELECT id::text, endpoint_id::text, webhook_id, event_type, status::text, attempt_count, next_retry_at,
			payload::text FROM webhook_deliveries WHERE id = $1`, id).
		Scan(&d.ID, &d.EndpointID, &d.WebhookID, &d.EventType, &d.Status, &d.AttemptCount, &d.NextRetryAt, &d.Payload)
	return d, interpret(err)
}

// Endpoint is where a delivery goes and the secret it is signed with.
type Endpoint struct {
	ID, URL, Secret string
	Disabled        bool
}

// EndpointByID reads an endpoint.
func EndpointByID(ctx context.Context, db DBTX, id string) (Endpoint, error) {
	var e Endpoint
	err := db.QueryRow(ctx, `SELECT id::text, url, secret, disabled FROM webhook_endpoints WHERE id = $1`, id).
		Scan(&e.ID, &e.URL, &e.Secret, &e.Disabled)
	return e, interpret(err)
}

// DiscardDelivery ends a delivery whose endpoint is gone or disabled.
func DiscardDelivery(ctx context.Context, db DBTX, id string) error {
	_, err := db.Exec(ctx, `UPDATE webhook_deliveries SET status = 'discarded', next_retry_at = NULL, updated_at = now()
		WHERE id = $1 AND status IN ('pending', 'sending')`, id)
	return err
}

// ClaimDelivery moves a delivery from its previous status to sending (compare and set).
func ClaimDelivery(ctx context.Context, db DBTX, id, previous string) (bool, error) {
	tag, err := db.Exec(ctx, `UPDATE webhook_deliveries SET status = 'sending', last_attempt_at = now(), updated_at = now()
		WHERE id = $1 AND status = $2::webhook_delivery_status`, id, previous)
	return tag.RowsAffected() == 1, err
}

// AttemptResult is one POST's outcome as the row records it.
type AttemptResult struct {
	Attempts       int  // attempts completed, this one included
	ResponseStatus *int // nil: no HTTP response
	Snippet        *string
	LastError      string // "" on success
}

// RecordDelivered marks a delivery delivered and its endpoint as having received one.
func RecordDelivered(ctx context.Context, db DBTX, d Delivery, r AttemptResult) error {
	_, err := db.Exec(ctx, `WITH d AS (UPDATE webhook_deliveries SET status = 'delivered', attempt_count = $2, response_status = $3,
			response_body_snippet = $4, delivered_at = now(), next_retry_at = NULL, last_error = NULL, last_attempt_at = now(),
			updated_at = now() WHERE id = $1 RETURNING endpoint_id)
		UPDATE webhook_endpoints SET last_delivery_at = now(), updated_at = now() WHERE id = (SELECT endpoint_id FROM d)`,
		d.ID, r.Attempts, r.ResponseStatus, r.Snippet)
	return err
}

// RecordRetry puts a delivery back to pending until next.
func RecordRetry(ctx context.Context, db DBTX, d Delivery, r AttemptResult, next time.Time) error {
	_, err := db.Exec(ctx, `UPDATE webhook_deliveries SET status = 'pending', attempt_count = $2, response_status = $3,
			response_body_snippet = $4, last_error = $5, last_attempt_at = now(), next_retry_at = $6, updated_at = now() WHERE id = $1`,
		d.ID, r.Attempts, r.ResponseStatus, r.Snippet, r.LastError, next)
	return err
}

// RecordFailed ends a delivery failed and dead-letters it, in one transaction.
func RecordFailed(ctx context.Context, db DBTX, d Delivery, e Endpoint, r AttemptResult) error {
	return WithTx(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'failed', attempt_count = $2, response_status = $3,
				response_body_snippet = $4, last_error = $5, last_attempt_at = now(), next_retry_at = NULL, updated_at = now()
			WHERE id = $1`, d.ID, r.Attempts, r.ResponseStatus, r.Snippet, r.LastError); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO dead_letter_queue (source, source_id, payload, error, retry_count)
			VALUES ('webhook-delivery', $1, jsonb_build_object('endpointId', $2::text, 'url', $3::text, 'eventType', $4::text,
				'webhookId', $5::text, 'body', $6::jsonb), $7, $8)`,
			d.ID, e.ID, e.URL, d.EventType, d.WebhookID, string(d.Payload), "Exhausted "+strconv.Itoa(r.Attempts)+": "+r.LastError, r.Attempts)
		return err
	})
}

// DueDeliveries are up to limit deliveries the sweeper drives: pending and due, or sending for
// longer than stuckAfter (their attempt died).
func DueDeliveries(ctx context.Context, db DBTX, stuckAfter time.Duration, limit int) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT id::text FROM webhook_deliveries
		WHERE (status = 'pending' AND (next_retry_at IS NULL OR next_retry_at < now()))
			OR (status = 'sending' AND updated_at < now() - make_interval(secs => $1))
		ORDER BY next_retry_at NULLS FIRST LIMIT $2`, stuckAfter.Seconds(), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
