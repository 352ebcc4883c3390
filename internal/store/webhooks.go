package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// NewDelivery is one outbound event to fan out.
type NewDelivery struct {
	EventType, WebhookID, DedupeKey string
	Envelope                        []byte
}

// InsertDeliveries fans outbound events out, in one statement, to every enabled endpoint
// subscribed to each one's type: one pending delivery per (event, endpoint); one whose dedupe
// key the endpoint already has is skipped. It returns the new deliveries' ids.
func InsertDeliveries(ctx context.Context, db DBTX, events []NewDelivery) ([]string, error) {
	types, ids, keys, bodies := make([]string, len(events)), make([]string, len(events)), make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		types[i], ids[i], keys[i], bodies[i] = e.EventType, e.WebhookID, e.DedupeKey, string(e.Envelope)
	}
	rows, err := db.Query(ctx, `INSERT INTO webhook_deliveries (endpoint_id, webhook_id, event_type, dedupe_key, payload, status, next_retry_at)
		SELECT e.id, m.webhook_id, m.event_type, m.dedupe_key, m.payload::jsonb, 'pending', now()
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS m(event_type, webhook_id, dedupe_key, payload)
		JOIN webhook_endpoints e ON NOT e.disabled AND e.organization_id IS NULL AND e.event_types @> jsonb_build_array(m.event_type)
		ON CONFLICT (endpoint_id, dedupe_key) DO NOTHING RETURNING id::text`, types, ids, keys, bodies)
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

// DeliveryToSend reads a delivery with its endpoint in one round trip; found is false when
// the endpoint is gone (the delivery then stays readable until it is discarded).
func DeliveryToSend(ctx context.Context, db DBTX, id string) (d Delivery, e Endpoint, found bool, err error) {
	var eid, url, secret *string
	var disabled *bool
	err = db.QueryRow(ctx, `SELECT d.id::text, d.endpoint_id::text, d.webhook_id, d.event_type, d.status::text, d.attempt_count,
			d.next_retry_at, d.payload::text, e.id::text, e.url, e.secret, e.disabled
		FROM webhook_deliveries d LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1`, id).
		Scan(&d.ID, &d.EndpointID, &d.WebhookID, &d.EventType, &d.Status, &d.AttemptCount, &d.NextRetryAt, &d.Payload,
			&eid, &url, &secret, &disabled)
	if err != nil {
		return d, e, false, interpret(err)
	}
	if eid == nil {
		return d, e, false, nil
	}
	return d, Endpoint{ID: *eid, URL: *url, Secret: *secret, Disabled: *disabled}, true, nil
}

// DeliveryWithEndpoint is a claimed delivery with where it goes.
type DeliveryWithEndpoint struct {
	Delivery Delivery
	Endpoint Endpoint
}

// ClaimFirstAttempts moves up to limit new deliveries that are due to sending and returns them
// with their endpoints (a disabled one's to be discarded), oldest first. Rows another claimer
// holds are skipped, so several processes share the work.
func ClaimFirstAttempts(ctx context.Context, db DBTX, limit int) ([]DeliveryWithEndpoint, error) {
	rows, err := db.Query(ctx, `WITH due AS (
			SELECT id FROM webhook_deliveries WHERE status = 'pending' AND attempt_count = 0 AND next_retry_at <= now()
			ORDER BY next_retry_at LIMIT $1 FOR UPDATE SKIP LOCKED)
		UPDATE webhook_deliveries w SET status = 'sending', last_attempt_at = now(), updated_at = now()
		FROM due, webhook_endpoints e WHERE w.id = due.id AND e.id = w.endpoint_id
		RETURNING w.id::text, w.endpoint_id::text, w.webhook_id, w.event_type, w.attempt_count, w.next_retry_at, w.payload::text,
			e.url, e.secret, e.disabled`, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeliveryWithEndpoint, error) {
		c := DeliveryWithEndpoint{Delivery: Delivery{Status: "pending"}}
		err := row.Scan(&c.Delivery.ID, &c.Delivery.EndpointID, &c.Delivery.WebhookID, &c.Delivery.EventType, &c.Delivery.AttemptCount,
			&c.Delivery.NextRetryAt, &c.Delivery.Payload, &c.Endpoint.URL, &c.Endpoint.Secret, &c.Endpoint.Disabled)
		c.Endpoint.ID = c.Delivery.EndpointID
		return c, err
	})
}

// DiscardDelivery ends a delivery whose endpoint is gone or disabled.
func DiscardDelivery(ctx context.Context, db DBTX, id string) error {
	_, err := db.Exec(ctx, `UPDATE webhook_deliveries SET status = 'discarded', next_retry_at = NULL, updated_at = now()
		WHERE id = $1 AND status IN ('pending', 'sending')`, id)
	return err
}

// DeliveryClaim is one claim: the delivery and the status it must still have.
type DeliveryClaim struct{ ID, Previous string }

// ClaimDeliveries moves deliveries to sending in one statement, each only from the status its
// claimer read; a delivery named twice is claimed by its first claim only.
func ClaimDeliveries(ctx context.Context, db DBTX, claims []DeliveryClaim) ([]bool, error) {
	ids, previous := make([]string, len(claims)), make([]string, len(claims))
	for i, c := range claims {
		ids[i], previous[i] = c.ID, c.Previous
	}
	rows, err := db.Query(ctx, `UPDATE webhook_deliveries w SET status = 'sending', last_attempt_at = now(), updated_at = now()
		FROM (SELECT DISTINCT ON (id) id, previous FROM unnest($1::uuid[], $2::text[]) AS q(id, previous)) q
		WHERE w.id = q.id AND w.status = q.previous::webhook_delivery_status RETURNING w.id::text`, ids, previous)
	if err != nil {
		return nil, err
	}
	won, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	claimed := map[string]bool{}
	for _, id := range won {
		claimed[id] = true
	}
	out := make([]bool, len(claims))
	for i, c := range claims {
		out[i] = claimed[c.ID]
		claimed[c.ID] = false // a second claim of the same delivery loses
	}
	return out, nil
}

// AttemptResult is one POST's outcome as the row records it.
type AttemptResult struct {
	Attempts       int  // attempts completed, this one included
	ResponseStatus *int // nil: no HTTP response
	Snippet        *string
	LastError      string // "" on success
}

// DeliveredAttempt is a delivery's successful attempt.
type DeliveredAttempt struct {
	Delivery Delivery
	Result   AttemptResult
}

// RecordDelivered marks deliveries delivered, in one statement, and their endpoints as having
// received one. An endpoint's lastDeliveryAt moves at most once a second: every delivery
// writing that one row would queue all deliveries to an endpoint behind each other's commits.
func RecordDelivered(ctx context.Context, db DBTX, done ...DeliveredAttempt) error {
	ids, attempts, statuses, snippets := make([]string, len(done)), make([]int, len(done)), make([]*int, len(done)), make([]*string, len(done))
	for i, a := range done {
		ids[i], attempts[i], statuses[i], snippets[i] = a.Delivery.ID, a.Result.Attempts, a.Result.ResponseStatus, a.Result.Snippet
	}
	_, err := db.Exec(ctx, `WITH d AS (UPDATE webhook_deliveries w SET status = 'delivered', attempt_count = m.attempts,
			response_status = m.status, response_body_snippet = m.snippet, delivered_at = now(), next_retry_at = NULL, last_error = NULL,
			last_attempt_at = now(), updated_at = now()
		FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[]) AS m(id, attempts, status, snippet) WHERE w.id = m.id
		RETURNING w.endpoint_id)
		UPDATE webhook_endpoints SET last_delivery_at = now() WHERE id IN (SELECT endpoint_id FROM d)
			AND (last_delivery_at IS NULL OR last_delivery_at < now() - interval '1 second')`, ids, attempts, statuses, snippets)
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

// DueDeliveries are up to limit deliveries the sweeper drives: pending and due (a first
// attempt only once it waited 30 s: it is likely queued in its process), or sending for longer
// than stuckAfter (their attempt died).
func DueDeliveries(ctx context.Context, db DBTX, stuckAfter time.Duration, limit int) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT id::text FROM webhook_deliveries
		WHERE (status = 'pending' AND (next_retry_at IS NULL
				OR next_retry_at < now() - CASE WHEN attempt_count = 0 THEN interval '30 seconds' ELSE interval '0' END))
			OR (status = 'sending' AND updated_at < now() - make_interval(secs => $1))
		ORDER BY next_retry_at NULLS FIRST LIMIT $2`, stuckAfter.Seconds(), limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// EndpointRow is a webhook endpoint as admin shows it (never its secret).
type EndpointRow struct {
	ID, URL, SecretPrefix       string
	Description, OrganizationID *string
	EventTypes                  []string
	Disabled                    bool
	LastDeliveryAt              *time.Time
	CreatedAt, UpdatedAt        time.Time
}

const endpointColumns = `id::text, url, secret_prefix, description, organization_id, event_types, disabled, last_delivery_at,
	created_at, updated_at`

func scanEndpoint(row pgx.Row) (EndpointRow, error) {
	var e EndpointRow
	err := row.Scan(&e.ID, &e.URL, &e.SecretPrefix, &e.Description, &e.OrganizationID, &e.EventTypes, &e.Disabled,
		&e.LastDeliveryAt, &e.CreatedAt, &e.UpdatedAt)
	return e, interpret(err)
}

// ListEndpoints pages endpoints, newest first.
func ListEndpoints(ctx context.Context, db DBTX, includeDisabled bool, limit, offset int) ([]EndpointRow, int, error) {
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM webhook_endpoints WHERE $1 OR NOT disabled`, includeDisabled).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE $1 OR NOT disabled
		ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`, includeDisabled, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EndpointRow, error) { return scanEndpoint(r) })
	return list, total, err
}

// NewEndpoint is an endpoint to create.
type NewEndpoint struct {
	URL, Secret string
	Description *string
	EventTypes  []string
	Disabled    bool
}

// CreateEndpoint stores an endpoint with its secret.
func CreateEndpoint(ctx context.Context, db DBTX, n NewEndpoint) (EndpointRow, error) {
	return scanEndpoint(db.QueryRow(ctx, `INSERT INTO webhook_endpoints (url, secret, secret_prefix, description, event_types, disabled)
		VALUES ($1, $2, left($2, 12), $3, to_jsonb($4::text[]), $5) RETURNING `+endpointColumns, n.URL, n.Secret, n.Description, n.EventTypes, n.Disabled))
}

// GetEndpoint reads an endpoint.
func GetEndpoint(ctx context.Context, db DBTX, id string) (EndpointRow, error) {
	return scanEndpoint(db.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = $1`, id))
}

// EndpointPatch changes the fields it sets; ClearDescription sets the description NULL.
type EndpointPatch struct {
	URL              *string
	EventTypes       []string // nil = unchanged
	Description      *string
	ClearDescription bool
	Disabled         *bool
}

// UpdateEndpoint applies a patch (updated_at is always bumped).
func UpdateEndpoint(ctx context.Context, db DBTX, id string, p EndpointPatch) (EndpointRow, error) {
	return scanEndpoint(db.QueryRow(ctx, `UPDATE webhook_endpoints SET url = coalesce($2, url),
			event_types = CASE WHEN $3::text[] IS NULL THEN event_types ELSE to_jsonb($3::text[]) END,
			description = CASE WHEN $5 THEN NULL ELSE coalesce($4, description) END,
			disabled = coalesce($6, disabled), updated_at = now()
		WHERE id = $1 RETURNING `+endpointColumns, id, p.URL, p.EventTypes, p.Description, p.ClearDescription, p.Disabled))
}

// DeleteEndpoint removes an endpoint and, by cascade, its deliveries.
func DeleteEndpoint(ctx context.Context, db DBTX, id string) error {
	tag, err := db.Exec(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}

// RotateSecret replaces an endpoint's secret.
func RotateSecret(ctx context.Context, db DBTX, id, secret string) (EndpointRow, error) {
	return scanEndpoint(db.QueryRow(ctx, `UPDATE webhook_endpoints SET secret = $2, secret_prefix = left($2, 12), updated_at = now()
		WHERE id = $1 RETURNING `+endpointColumns, id, secret))
}

// InsertDelivery writes one pending delivery of an envelope to an endpoint (no subscription
// filter, no dedupe key): a test send, or a redelivery of a row's webhook id.
func InsertDelivery(ctx context.Context, db DBTX, endpointID, webhookID, eventType string, envelope []byte) (string, error) {
	var id string
	err := db.QueryRow(ctx, `INSERT INTO webhook_deliveries (endpoint_id, organization_id, webhook_id, event_type, payload, next_retry_at)
		SELECT id, organization_id, $2, $3, $4::jsonb, now() FROM webhook_endpoints WHERE id = $1 RETURNING id::text`,
		endpointID, webhookID, eventType, string(envelope)).Scan(&id)
	return id, interpret(err)
}

// DeliveryRow is a delivery as admin shows it.
type DeliveryRow struct {
	ID, EndpointID, WebhookID, EventType, Status string
	AttemptCount                                 int
	ResponseStatus                               *int
	ResponseBodySnippet, LastError               *string
	NextRetryAt, LastAttemptAt, DeliveredAt      *time.Time
	CreatedAt, UpdatedAt                         time.Time
}

// ListDeliveries pages an endpoint's deliveries, newest first, optionally of one status.
func ListDeliveries(ctx context.Context, db DBTX, endpointID, status string, limit, offset int) ([]DeliveryRow, int, error) {
	const where = ` FROM webhook_deliveries WHERE endpoint_id = $1 AND ($2 = '' OR status::text = $2)`
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*)`+where, endpointID, status).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, `SELECT id::text, endpoint_id::text, webhook_id, event_type, status::text, attempt_count, response_status,
			response_body_snippet, last_error, next_retry_at, last_attempt_at, delivered_at, created_at, updated_at`+where+`
		ORDER BY created_at DESC, id LIMIT $3 OFFSET $4`, endpointID, status, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeliveryRow, error) {
		var d DeliveryRow
		err := r.Scan(&d.ID, &d.EndpointID, &d.WebhookID, &d.EventType, &d.Status, &d.AttemptCount, &d.ResponseStatus,
			&d.ResponseBodySnippet, &d.LastError, &d.NextRetryAt, &d.LastAttemptAt, &d.DeliveredAt, &d.CreatedAt, &d.UpdatedAt)
		return d, err
	})
	return list, total, err
}

// DLQEntry is a dead_letter_queue row.
type DLQEntry struct {
	ID, Source, Error, Status string
	SourceID                  *string
	Payload                   map[string]any
	RetryCount                int
	RetriedAt                 *time.Time
	CreatedAt                 time.Time
}

// ListDLQ pages dead letters, newest first.
func ListDLQ(ctx context.Context, db DBTX, source, status string, limit, offset int) ([]DLQEntry, int, error) {
	const where = ` FROM dead_letter_queue WHERE ($1 = '' OR source = $1) AND ($2 = '' OR status::text = $2)`
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*)`+where, source, status).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, `SELECT id::text, source, error, status::text, source_id, payload, retry_count, retried_at, created_at`+where+`
		ORDER BY created_at DESC, id LIMIT $3 OFFSET $4`, source, status, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DLQEntry, error) {
		var e DLQEntry
		err := r.Scan(&e.ID, &e.Source, &e.Error, &e.Status, &e.SourceID, &e.Payload, &e.RetryCount, &e.RetriedAt, &e.CreatedAt)
		return e, err
	})
	return list, total, err
}

// ErrNotPending is a dead letter that is not pending any more.
var ErrNotPending = errors.New("entry is not in pending state")

// RetryDLQ marks a pending dead letter retried and returns it.
func RetryDLQ(ctx context.Context, db DBTX, id string) (DLQEntry, error) {
	var e DLQEntry
	err := db.QueryRow(ctx, `UPDATE dead_letter_queue SET status = 'retried', retry_count = retry_count + 1, retried_at = now(),
			updated_at = now() WHERE id = $1 AND status = 'pending' RETURNING source, source_id`, id).Scan(&e.Source, &e.SourceID)
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM dead_letter_queue WHERE id = $1)`, id).Scan(&exists); err != nil {
			return e, err
		}
		if exists {
			return e, ErrNotPending
		}
		return e, ErrNotFound
	}
	return e, err
}

// DiscardDLQ marks a dead letter discarded, whatever its status.
func DiscardDLQ(ctx context.Context, db DBTX, id string) error {
	tag, err := db.Exec(ctx, `UPDATE dead_letter_queue SET status = 'discarded', updated_at = now() WHERE id = $1`, id)
	if err == nil && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return err
}
