// Package schema holds the engine's SQL migrations and the migrator that applies them.
//
// Migrations are plain SQL files named NNNN_description.sql, applied in name order. Two tracks
// share one database: the engine track (embedded here) and an optional client track (the
// application's own migrations). Each applied file is recorded in the schema_migrations ledger
// together with its SHA-256, inside the same transaction as the file itself.
package schema

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed *.sql
var engineFiles embed.FS

// Track names.
const (
	TrackEngine = "engine"
	TrackClient = "client"
)

// AdvisoryLockKey serialises every migrate run against one database, both tracks included.
const AdvisoryLockKey = 4812007

// noTransactionMarker on a file's first line runs it outside a transaction (CREATE INDEX
// CONCURRENTLY and friends).
const noTransactionMarker = "-- hogsend:no-transaction"

// Track is one ordered set of migration files.
type Track struct {
	Name string
	// FS holds the *.sql files at its root. A nil FS is an empty track.
	FS fs.FS
}

// Engine returns the engine track embedded in this package.
func Engine() Track { return Track{Name: TrackEngine, FS: engineFiles} }

// Client returns the application's track; fsys may be nil (no client migrations).
func Client(fsys fs.FS) Track { return Track{Name: TrackClient, FS: fsys} }

// Migration is one file of a track.
type Migration struct {
	Tag      string // file name without .sql
	SQL      string
	Checksum string // hex SHA-256 of the file
}

// Migrations lists the track's files in apply order.
func (t Track) Migrations() ([]Migration, error) {
	if t.FS == nil {
		return nil, nil
	}
	names, err := fs.Glob(t.FS, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list %s migrations: %w", t.Name, err)
	}
	slices.Sort(names)
	out := make([]Migration, 0, len(names))
	for _, name := range names {
		body, err := fs.ReadFile(t.FS, name)
		if err != nil {
			return nil, fmt.Errorf("read %s migration %s: %w", t.Name, name, err)
		}
		sum := sha256.Sum256(body)
		out = append(out, Migration{
			Tag:      strings.TrimSuffix(path.Base(name), ".sql"),
			SQL:      string(body),
			Checksum: hex.EncodeToString(sum[:]),
		})
	}
	return out, nil
}

// Status is a track's position, as shown by `migrate status` and the health endpoint.
type Status struct {
	Track    string   `json:"-"`
	Applied  *string  `json:"applied"`  // last bundled tag present in the ledger
	Required *string  `json:"required"` // last bundled tag
	InSync   bool     `json:"inSync"`   // nothing pending (a database ahead of the build is in sync)
	Pending  []string `json:"pending"`
	// LedgerError is set when the ledger could not be read for a reason other than "not created yet".
	LedgerError error `json:"-"`
}

// Querier is what Status needs: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ReadStatus compares the track's files with the ledger. A missing ledger means nothing is
// applied; any other read error is returned in Status.LedgerError with every file pending.
func ReadStatus(ctx context.Context, db Querier, t Track) (Status, error) {
	migs, err := t.Migrations()
	if err != nil {
		return Status{}, err
	}
	applied, ledgerErr := appliedTags(ctx, db, t.Name)
	st := Status{Track: t.Name, Pending: []string{}, LedgerError: ledgerErr}
	for _, m := range migs {
		if _, ok := applied[m.Tag]; ok {
			st.Applied = &m.Tag
		} else {
			st.Pending = append(st.Pending, m.Tag)
		}
	}
	if len(migs) > 0 {
		st.Required = &migs[len(migs)-1].Tag
	}
	st.InSync = len(st.Pending) == 0
	return st, nil
}

// appliedTags reads the ledger of one track: tag → checksum.
func appliedTags(ctx context.Context, db Querier, track string) (map[string]string, error) {
	rows, err := db.Query(ctx, `SELECT version, checksum FROM schema_migrations WHERE track = $1`, track)
	if err != nil {
		if isUndefinedTable(err) {
			return map[string]string{}, nil
		}
		return map[string]string{}, err
	}
	out := map[string]string{}
	for rows.Next() {
		var tag, sum string
		if err := rows.Scan(&tag, &sum); err != nil {
			rows.Close()
			return map[string]string{}, err
		}
		out[tag] = sum
	}
	if err := rows.Err(); err != nil {
		if isUndefinedTable(err) {
			return map[string]string{}, nil
		}
		return map[string]string{}, err
	}
	return out, nil
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// Describe renders a status in one line for logs: "required X, applied Y, pending [a b]".
func (s Status) Describe() string {
	applied := "(empty)"
	if s.Applied != nil {
		applied = *s.Applied
	}
	required := "(none)"
	if s.Required != nil {
		required = *s.Required
	}
	pending := strings.Join(s.Pending, ", ")
	if s.LedgerError != nil {
		pending = "(unknown — is the DB reachable?)"
	}
	return fmt.Sprintf("required %s, applied %s, pending %s", required, applied, pending)
}

// Migrator applies tracks over one dedicated connection under the advisory lock.
type Migrator struct {
	// DatabaseURL is the DSN the migrator connects with (application_name hogsend-migrate).
	DatabaseURL string
	Logger      *slog.Logger
}

const ledgerDDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  track      text NOT NULL,
  version    text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (track, version)
)`

// Up applies every pending file of each track in order; a failure stops before later tracks.
func (m *Migrator) Up(ctx context.Context, tracks ...Track) error {
	return m.withLock(ctx, func(conn *pgx.Conn) error {
		for _, t := range tracks {
			if err := m.upTrack(ctx, conn, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// Stamp records every file of the track as applied without running it (for databases whose
// schema is known to be current).
func (m *Migrator) Stamp(ctx context.Context, t Track) error {
	migs, err := t.Migrations()
	if err != nil {
		return err
	}
	return m.withLock(ctx, func(conn *pgx.Conn) error {
		for _, mig := range migs {
			if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (track, version, checksum)
				VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, t.Name, mig.Tag, mig.Checksum); err != nil {
				return fmt.Errorf("stamp %s %s: %w", t.Name, mig.Tag, err)
			}
		}
		m.logger().Info(fmt.Sprintf("[%s] Stamped %d migration(s) as applied.", t.Name, len(migs)))
		return nil
	})
}

func (m *Migrator) logger() *slog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return slog.Default()
}

func (m *Migrator) withLock(ctx context.Context, fn func(*pgx.Conn) error) error {
	cfg, err := pgx.ParseConfig(m.DatabaseURL)
	if err != nil {
		return fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	cfg.RuntimeParams["application_name"] = "hogsend-migrate"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect for migrate: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, stmt := range []string{
		`SET lock_timeout = '10s'`,
		`SET statement_timeout = '15min'`,
		fmt.Sprintf(`SELECT pg_advisory_lock(%d)`, AdvisoryLockKey),
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("prepare migrate session (%s): %w", stmt, err)
		}
	}
	defer conn.Exec(context.WithoutCancel(ctx), fmt.Sprintf(`SELECT pg_advisory_unlock(%d)`, AdvisoryLockKey)) //nolint:errcheck // the session ends right after
	if _, err := conn.Exec(ctx, ledgerDDL); err != nil {
		return fmt.Errorf("create migration ledger: %w", err)
	}
	return fn(conn)
}

func (m *Migrator) upTrack(ctx context.Context, conn *pgx.Conn, t Track) error {
	log := m.logger()
	migs, err := t.Migrations()
	if err != nil {
		return err
	}
	if len(migs) == 0 {
		if t.Name == TrackClient {
			log.Info("[client] No client migrations configured — skipping.")
		}
		return nil
	}
	applied, err := appliedTags(ctx, conn, t.Name)
	if err != nil {
		return fmt.Errorf("read %s ledger: %w", t.Name, err)
	}
	var pending []Migration
	var last string
	for _, mig := range migs {
		sum, ok := applied[mig.Tag]
		if !ok {
			pending = append(pending, mig)
			continue
		}
		last = mig.Tag
		if sum != mig.Checksum {
			log.Warn(fmt.Sprintf("[%s] %s changed after it was applied (checksum differs); it is not re-run.", t.Name, mig.Tag))
		}
	}
	if len(pending) == 0 {
		log.Info(fmt.Sprintf("[%s] Schema already up to date at %s — nothing to apply.", t.Name, orEmpty(last)))
		return nil
	}
	tags := make([]string, len(pending))
	for i, mig := range pending {
		tags[i] = mig.Tag
	}
	log.Info(fmt.Sprintf("[%s] Applying %d migration(s): %s", t.Name, len(pending), strings.Join(tags, ", ")))
	for _, mig := range pending {
		if err := apply(ctx, conn, t.Name, mig); err != nil {
			return err
		}
	}
	log.Info(fmt.Sprintf("[%s] Migrations complete. Schema now at %s.", t.Name, pending[len(pending)-1].Tag))
	return nil
}

func apply(ctx context.Context, conn *pgx.Conn, track string, mig Migration) error {
	record := func(db interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	}) error {
		_, err := db.Exec(ctx, `INSERT INTO schema_migrations (track, version, checksum) VALUES ($1, $2, $3)`,
			track, mig.Tag, mig.Checksum)
		return err
	}
	if strings.HasPrefix(mig.SQL, noTransactionMarker) {
		if _, err := conn.Exec(ctx, mig.SQL); err != nil {
			return fmt.Errorf("apply %s migration %s: %w", track, mig.Tag, err)
		}
		if err := record(conn); err != nil {
			return fmt.Errorf("record %s migration %s: %w", track, mig.Tag, err)
		}
		return nil
	}
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, mig.SQL); err != nil {
			return err
		}
		return record(tx)
	})
	if err != nil {
		return fmt.Errorf("apply %s migration %s: %w", track, mig.Tag, err)
	}
	return nil
}

func orEmpty(tag string) string {
	if tag == "" {
		return "(empty)"
	}
	return tag
}
