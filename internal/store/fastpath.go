package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// ContactRef is the identity columns of a live contact.
type ContactRef struct {
	ID, Key                        string
	ExternalID, Email, AnonymousID *string
}

// LiveContactsByKeys finds live contacts by many values of one identity kind at once (no
// alias fallback): value → contact.
func LiveContactsByKeys(ctx context.Context, db DBTX, kind IdentityKind, values []string) (map[string]ContactRef, error) {
	out := map[string]ContactRef{}
	if len(values) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, `SELECT id::text, external_id, email, anonymous_id FROM contacts
		WHERE deleted_at IS NULL AND `+kind.column()+` = ANY($1)`, values)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c ContactRef
		if err := rows.Scan(&c.ID, &c.ExternalID, &c.Email, &c.AnonymousID); err != nil {
			return nil, err
		}
		c.Key = Contact{ID: c.ID, ExternalID: c.ExternalID, AnonymousID: c.AnonymousID}.Key()
		var v *string
		switch kind {
		case KindExternal:
			v = c.ExternalID
		case KindEmail:
			v = c.Email
		default:
			v = c.AnonymousID
		}
		out[*v] = c
	}
	return out, rows.Err()
}

// ExistingEventKeys returns which of the idempotency keys are already stored.
func ExistingEventKeys(ctx context.Context, db DBTX, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(keys) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, `SELECT idempotency_key FROM user_events WHERE idempotency_key = ANY($1)`, keys)
	if err != nil {
		return nil, err
	}
	found, err := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, k := range found {
		out[k] = true
	}
	return out, err
}

// BulkEvent is one row of InsertEvents; ID is chosen by the caller.
type BulkEvent struct {
	ID, UserKey, Name string
	Properties        []byte // JSON object
	IdempotencyKey    *string
	OccurredAt        *time.Time
}

// InsertEvents stores many events in one statement and returns the ids inserted with their
// times (an event whose idempotency key exists is skipped). Rows without a time get the clock
// time of their insert, so their order survives.
func InsertEvents(ctx context.Context, db DBTX, events []BulkEvent) (map[string]time.Time, error) {
	n := len(events)
	ids, keys, names := make([]string, n), make([]string, n), make([]string, n)
	props := make([]string, n)
	idem := make([]*string, n)
	at := make([]*time.Time, n)
	for i, e := range events {
		ids[i], keys[i], names[i], props[i], idem[i], at[i] = e.ID, e.UserKey, e.Name, string(e.Properties), e.IdempotencyKey, e.OccurredAt
	}
	rows, err := db.Query(ctx, `INSERT INTO user_events (id, user_id, event, properties, idempotency_key, occurred_at)
		SELECT id, user_id, event, properties, idem, coalesce(at, clock_timestamp())
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::timestamptz[]) AS e(id, user_id, event, properties, idem, at)
		ON CONFLICT (idempotency_key) DO NOTHING RETURNING id::text, occurred_at`, ids, keys, names, props, idem, at)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]time.Time, n)
	for rows.Next() {
		var id string
		var t time.Time
		if err := rows.Scan(&id, &t); err != nil {
			return nil, err
		}
		out[id] = t
	}
	return out, rows.Err()
}

// TouchContacts marks contacts seen now.
func TouchContacts(ctx context.Context, db DBTX, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	// Rows are locked in id order, so concurrent batches touching the same contacts cannot deadlock.
	_, err := db.Exec(ctx, `UPDATE contacts c SET last_seen_at = now(), updated_at = now()
		FROM (SELECT id FROM contacts WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE) locked WHERE c.id = locked.id`, ids)
	return err
}
