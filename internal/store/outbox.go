package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// OutboxRow is one pending intent: something to do after the transaction that wrote it commits.
type OutboxRow struct {
	ID        int64
	Kind      string
	DedupeKey *string
	Payload   []byte
	Attempts  int
}

// InsertOutbox appends rows in one statement and returns the ids of those inserted (a row whose
// dedupe key already exists is dropped).
func InsertOutbox(ctx context.Context, db DBTX, rows []OutboxRow) ([]int64, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	kinds := make([]string, len(rows))
	keys := make([]*string, len(rows))
	payloads := make([]string, len(rows))
	for i, r := range rows {
		kinds[i], keys[i], payloads[i] = r.Kind, r.DedupeKey, string(r.Payload)
	}
	out, err := db.Query(ctx, `INSERT INTO outbox (kind, dedupe_key, payload)
		SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[])
		ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING RETURNING id`, kinds, keys, payloads)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(out, pgx.RowTo[int64])
}

// ClaimOutbox leases up to limit due rows for lease (other dispatchers skip them meanwhile) and
// counts the attempt.
func ClaimOutbox(ctx context.Context, db DBTX, limit int, lease time.Duration) ([]OutboxRow, error) {
	rows, err := db.Query(ctx, `UPDATE outbox SET next_attempt_at = now() + make_interval(secs => $2), attempts = attempts + 1
		WHERE id IN (SELECT id FROM outbox WHERE dispatched_at IS NULL AND next_attempt_at <= now()
			ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING id, kind, dedupe_key, payload::text, attempts`, limit, lease.Seconds())
	if err != nil {
		return nil, err
	}
	var out []OutboxRow
	for rows.Next() {
		var r OutboxRow
		var payload string
		if err := rows.Scan(&r.ID, &r.Kind, &r.DedupeKey, &payload, &r.Attempts); err != nil {
			rows.Close()
			return nil, err
		}
		r.Payload = []byte(payload)
		out = append(out, r)
	}
	return out, rows.Err()
}

// CompleteOutbox marks rows done.
func CompleteOutbox(ctx context.Context, db DBTX, ids []int64) error {
	_, err := db.Exec(ctx, `UPDATE outbox SET dispatched_at = now(), last_error = NULL WHERE id = ANY($1)`, ids)
	return err
}

// RetryOutbox records a failed attempt and when to try again.
func RetryOutbox(ctx context.Context, db DBTX, id int64, lastError string, after time.Duration) error {
	_, err := db.Exec(ctx, `UPDATE outbox SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1`,
		id, lastError, after.Seconds())
	return err
}

// DeadLetterOutbox ends a row that will not be retried: it is copied into dead_letter_queue
// (source "outbox:<kind>") and marked done and dead-lettered, in one transaction.
func DeadLetterOutbox(ctx context.Context, db DBTX, id int64, lastError string) error {
	_, err := db.Exec(ctx, `WITH dead AS (
			UPDATE outbox SET dispatched_at = now(), dead_lettered_at = now(), last_error = $2 WHERE id = $1
			RETURNING id, kind, payload, attempts)
		INSERT INTO dead_letter_queue (source, source_id, payload, error, retry_count)
		SELECT 'outbox:' || kind, id::text, payload, $2, attempts FROM dead`, id, lastError)
	return err
}

// RedispatchOutbox makes the done row holding dedupeKey due again with a fresh attempt budget.
// It reports false when there is no such done row (still pending, dead-lettered or pruned).
func RedispatchOutbox(ctx context.Context, db DBTX, dedupeKey string) (bool, error) {
	tag, err := db.Exec(ctx, `UPDATE outbox SET dispatched_at = NULL, next_attempt_at = now(), attempts = 0
		WHERE dedupe_key = $1 AND dispatched_at IS NOT NULL AND dead_lettered_at IS NULL`, dedupeKey)
	return tag.RowsAffected() == 1, err
}

// PruneOutbox deletes rows dispatched longer ago than age.
func PruneOutbox(ctx context.Context, db DBTX, age time.Duration) (int64, error) {
	tag, err := db.Exec(ctx, `DELETE FROM outbox WHERE dispatched_at < now() - make_interval(secs => $1)`, age.Seconds())
	return tag.RowsAffected(), err
}

// OutboxPending counts rows not yet dispatched (health, tests).
func OutboxPending(ctx context.Context, db DBTX) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE dispatched_at IS NULL`).Scan(&n)
	return n, err
}
