package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// APIKey is a row of api_keys without its hash.
type APIKey struct {
	ID         string
	Name       string
	KeyPrefix  string
	Scopes     []string
	CreatedBy  *string
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	ExpiresAt  *time.Time
	CreatedAt  time.Time
}

// NewAPIKey is what InsertAPIKey stores.
type NewAPIKey struct {
	Name      string
	KeyPrefix string
	KeyHash   string
	Scopes    []string
	CreatedBy *string
	ExpiresAt *time.Time
}

const apiKeyColumns = `id::text, name, key_prefix, scopes, created_by, last_used_at, revoked_at, expires_at, created_at`

func scanAPIKey(row pgx.Row) (APIKey, error) {
	var k APIKey
	err := row.Scan(&k.ID, &k.Name, &k.KeyPrefix, &k.Scopes, &k.CreatedBy, &k.LastUsedAt, &k.RevokedAt, &k.ExpiresAt, &k.CreatedAt)
	return k, interpret(err)
}

// InsertAPIKey stores a new key.
func InsertAPIKey(ctx context.Context, db DBTX, k NewAPIKey) (APIKey, error) {
	return scanAPIKey(db.QueryRow(ctx, `INSERT INTO api_keys (name, key_prefix, key_hash, scopes, created_by, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+apiKeyColumns,
		k.Name, k.KeyPrefix, k.KeyHash, k.Scopes, k.CreatedBy, k.ExpiresAt))
}

// ActiveAPIKeyByHash finds the unrevoked key with this hash (expired keys included: the caller
// tells "expired" from "unknown").
func ActiveAPIKeyByHash(ctx context.Context, db DBTX, hash string) (APIKey, error) {
	return scanAPIKey(db.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE key_hash = $1 AND revoked_at IS NULL LIMIT 1`, hash))
}

// ActiveAPIKeyByID finds an unrevoked key; ErrNotFound when missing or revoked.
func ActiveAPIKeyByID(ctx context.Context, db DBTX, id string) (APIKey, error) {
	return scanAPIKey(db.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE id = $1 AND revoked_at IS NULL FOR UPDATE`, id))
}

// ListAPIKeys pages keys newest first and counts them with the same filter.
func ListAPIKeys(ctx context.Context, db DBTX, includeRevoked bool, limit, offset int) ([]APIKey, int, error) {
	var total int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE $1 OR revoked_at IS NULL`, includeRevoked).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := db.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE $1 OR revoked_at IS NULL
		ORDER BY created_at DESC, id LIMIT $2 OFFSET $3`, includeRevoked, limit, offset)
	if err != nil {
		return nil, 0, err
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) { return scanAPIKey(r) })
	return keys, total, err
}

// RevokeAPIKey marks an active key revoked and returns its hash (for cache eviction);
// ErrNotFound when it is missing or already revoked.
func RevokeAPIKey(ctx context.Context, db DBTX, id string) (string, error) {
	var hash string
	err := db.QueryRow(ctx, `UPDATE api_keys SET revoked_at = now(), updated_at = now()
		WHERE id = $1 AND revoked_at IS NULL RETURNING key_hash`, id).Scan(&hash)
	return hash, interpret(err)
}

// TouchAPIKey records use, at most every five minutes.
func TouchAPIKey(ctx context.Context, db DBTX, id string) error {
	_, err := db.Exec(ctx, `UPDATE api_keys SET last_used_at = now()
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '5 minutes')`, id)
	return err
}

// apiKeyBootstrapLock serialises first-boot minting across API replicas.
const apiKeyBootstrapLock = 4812009

// InsertFirstAPIKey stores k only when no key exists at all (first boot); ok is false otherwise.
// Replicas booting together mint at most one key.
func InsertFirstAPIKey(ctx context.Context, db DBTX, k NewAPIKey) (key APIKey, ok bool, err error) {
	err = WithTx(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, apiKeyBootstrapLock); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys)`).Scan(&exists); err != nil || exists {
			return err
		}
		key, err = InsertAPIKey(ctx, tx, k)
		ok = err == nil
		return err
	})
	return key, ok, err
}
