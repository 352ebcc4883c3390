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

// NewEvent is a user_events row to insert.
type NewEvent struct {
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
	err = db.QueryRow(ctx, `INSERT INTO user_events (user_id, event, properties, idempotency_key, occurred_at)
		VALUES ($1, $2, $3, $4, coalesce($5, now()))
		ON CONFLICT (idempotency_key) DO NOTHING RETURNING id::text, occurred_at`,
		e.UserKey, e.Name, props, e.IdempotencyKey, e.OccurredAt).Scan(&id, &occurredAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, false, nil
	}
	return id, occurredAt, err == nil, err
}
