package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// EventKeyExists reports whether an event with this idempotency key is stored.
func EventKeyExists(ctx context.Context, db DBTX, key string) (bool, error) {
	var exists bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_events WHERE idempotency_key = $1)`, key).Scan(&exists)
	return exists, err
}

// EventStored reports whether an event with this id exists ("" never does).
func EventStored(ctx context.Context, db DBTX, id string) (bool, error) {
	if id == "" {
		return false, nil
	}
	var ok bool
	err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_events WHERE id = $1::uuid)`, id).Scan(&ok)
	return ok, err
}

// NewEvent is a user_events row to insert.
type NewEvent struct {
	ID             string // "" = a new one
	UserKey        string
	Name           string
	Properties     map[string]any // nil = {}
	IdempotencyKey *string
	OccurredAt     *time.Time // nil = now
}

// InsertEvent stores an event; inserted is false when its idempotency key already exists.
func InsertEvent(ctx context.Context, db DBTX, e NewEvent) (id string, occurredAt time.Time, inserted bool, err error) {
	props := e.Properties
	if props == nil {
		props = map[string]any{}
	}
	err = db.QueryRow(ctx, `INSERT INTO user_events (id, user_id, event, properties, idempotency_key, occurred_at)
		VALUES (coalesce(nullif($6, '')::uuid, gen_random_uuid()), $1, $2, $3, $4, coalesce($5, clock_timestamp()))
		ON CONFLICT (idempotency_key) DO NOTHING RETURNING id::text, occurred_at`,
		e.UserKey, e.Name, props, e.IdempotencyKey, e.OccurredAt, e.ID).Scan(&id, &occurredAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, false, nil
	}
	return id, occurredAt, err == nil, err
}

// Event is a stored user_events row.
type Event struct {
	ID         string
	UserID     string
	Name       string
	Properties map[string]any // nil when the column is NULL
	OccurredAt time.Time
}

// EventFilter selects events: exact user key and name, inclusive time bounds; zero = any.
type EventFilter struct {
	UserID, Name string
	From, To     *time.Time
}

const eventColumns = `id::text, user_id, event, properties, occurred_at`

const eventWhere = `($1 = '' OR user_id = $1) AND ($2 = '' OR event = $2)
	AND ($3::timestamptz IS NULL OR occurred_at >= $3) AND ($4::timestamptz IS NULL OR occurred_at <= $4)`

func scanEvent(row pgx.Row) (Event, error) {
	var e Event
	err := row.Scan(&e.ID, &e.UserID, &e.Name, &e.Properties, &e.OccurredAt)
	return e, interpret(err)
}

func collectEvents(rows pgx.Rows, err error) ([]Event, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) { return scanEvent(r) })
}

// ListEvents pages events newest first, with the total count.
func ListEvents(ctx context.Context, db DBTX, f EventFilter, limit, offset int) ([]Event, int, error) {
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM user_events WHERE `+eventWhere, f.UserID, f.Name, f.From, f.To).Scan(&total); err != nil {
		return nil, 0, err
	}
	list, err := collectEvents(db.Query(ctx, `SELECT `+eventColumns+` FROM user_events WHERE `+eventWhere+`
		ORDER BY occurred_at DESC, id LIMIT $5 OFFSET $6`, f.UserID, f.Name, f.From, f.To, limit, offset))
	return list, total, err
}

// EventByID finds one event.
func EventByID(ctx context.Context, db DBTX, id string) (Event, error) {
	return scanEvent(db.QueryRow(ctx, `SELECT `+eventColumns+` FROM user_events WHERE id = $1`, id))
}

// EventsByIDs returns the events among ids that exist.
func EventsByIDs(ctx context.Context, db DBTX, ids []string) ([]Event, error) {
	return collectEvents(db.Query(ctx, `SELECT `+eventColumns+` FROM user_events WHERE id = ANY($1::uuid[]) ORDER BY occurred_at DESC, id`, ids))
}
