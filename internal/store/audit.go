package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// AuditEntry is one audited admin mutation.
type AuditEntry struct {
	ID         string
	Actor      string
	ActorKeyID *string
	Action     string
	Resource   string
	ResourceID *string
	Detail     map[string]any
	IPAddress  *string
	CreatedAt  time.Time
}

// InsertAudit records an admin mutation.
func InsertAudit(ctx context.Context, db DBTX, e AuditEntry) error {
	_, err := db.Exec(ctx, `INSERT INTO audit_logs (actor, actor_key_id, action, resource, resource_id, detail, ip_address)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.Actor, e.ActorKeyID, e.Action, e.Resource, e.ResourceID, e.Detail, e.IPAddress)
	return err
}

// AuditFilter selects audit rows; empty fields match everything, From and To are inclusive.
type AuditFilter struct {
	Actor, Resource, Action string
	From, To                *time.Time
}

// ListAudit returns audit rows newest first, and how many match.
func ListAudit(ctx context.Context, db DBTX, f AuditFilter, limit, offset int) ([]AuditEntry, int, error) {
	const where = ` FROM audit_logs WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR resource = $2) AND ($3 = '' OR action = $3)
		AND ($4::timestamptz IS NULL OR created_at >= $4) AND ($5::timestamptz IS NULL OR created_at <= $5)`
	args := []any{f.Actor, f.Resource, f.Action, f.From, f.To}
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, `SELECT id::text, actor, actor_key_id::text, action, resource, resource_id, detail, ip_address, created_at`+
		where+` ORDER BY created_at DESC, id LIMIT $6 OFFSET $7`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.Actor, &e.ActorKeyID, &e.Action, &e.Resource, &e.ResourceID, &e.Detail, &e.IPAddress, &e.CreatedAt)
		return e, err
	})
	return list, total, err
}
