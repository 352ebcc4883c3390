// Package store is the only package that runs SQL. Every function takes a DBTX, so the same code
// runs on the pool, inside a caller's transaction, or in a test's rolled-back transaction.
//
// API is not stable. DO NOT USE from applications.
package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DBTX is satisfied by *pgxpool.Pool, *pgx.Conn and pgx.Tx.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// Errors the rest of the engine matches on; pgx errors never leave this package unwrapped.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// interpret maps driver errors to the package's errors.
func interpret(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return errors.Join(ErrConflict, err)
	}
	return err
}

// Retryable reports errors that say nothing about the statement itself: a deadlock victim or
// a serialization failure succeeds when run again.
func Retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// WithTx runs fn in a transaction (a savepoint when db is already a transaction).
func WithTx(ctx context.Context, db DBTX, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db, fn)
}

// Ping checks that the database answers.
func Ping(ctx context.Context, db DBTX) error {
	var one int
	return db.QueryRow(ctx, `SELECT 1`).Scan(&one)
}
