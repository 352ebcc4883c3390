// Package schematest gives tests isolated, migrated PostgreSQL databases.
//
// The server is found in this order: $HOGSEND_TEST_DATABASE_URL; a server on 127.0.0.1:5432 that
// accepts the postgres superuser without a password; otherwise a throwaway cluster started from
// the installed PostgreSQL binaries and removed when the test binary ends (call Main from
// TestMain). Each TestDB is a fresh database cloned from a migrated template, so tests that commit
// or use many connections stay isolated; TestTx is a rolled-back transaction on such a database.
package schematest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hogsend/hogsend/internal/pglocal"
	"github.com/hogsend/hogsend/schema"
)

// EnvURL names the variable that points the tests at an existing server (any database on it).
const EnvURL = "HOGSEND_TEST_DATABASE_URL"

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error
	cluster    *pglocal.Cluster
	clusterDir string
)

// Main runs the tests, then stops the throwaway cluster if one was started.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		_ = cluster.Stop()
		_ = os.RemoveAll(clusterDir)
	}
	os.Exit(code)
}

// ServerURL returns a superuser DSN to the maintenance database of the test server, starting a
// throwaway cluster on first use. A missing prerequisite fails the test with one sentence.
func ServerURL(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() { serverURL, serverErr = findServer() })
	if serverErr != nil {
		t.Fatalf("no PostgreSQL for tests: %v", serverErr)
	}
	return serverURL
}

func findServer() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if u := os.Getenv(EnvURL); u != "" {
		if err := ping(ctx, u); err != nil {
			return "", fmt.Errorf("%s is set but unreachable: %w", EnvURL, err)
		}
		return u, nil
	}
	local := "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=1"
	if ping(ctx, local) == nil {
		return local, nil
	}
	dir, err := os.MkdirTemp("", "hogsend-test-pg-")
	if err != nil {
		return "", err
	}
	// MkdirTemp makes a private directory; the postgres OS user must be able to pass through it.
	if err := os.Chmod(dir, 0o711); err != nil {
		return "", err
	}
	c := &pglocal.Cluster{Dir: dir + "/data"}
	if err := c.Init(ctx); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if err := c.Start(ctx); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	cluster, clusterDir = c, dir
	return c.URL("postgres"), nil
}

func ping(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// withDatabase swaps the database name in a DSN.
func withDatabase(dsn, db string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + db
	return u.String()
}

// templateLock serialises template creation and cloning across test processes.
const templateLock = 4812008

// TestDB creates a fresh database holding the migrated engine schema and returns a pool on it
// and its DSN. The database is dropped when the test ends.
func TestDB(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	dsn := newDatabase(t, true)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open test pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool, dsn
}

// EmptyDB creates a fresh database with no schema at all (for migrator tests) and returns its DSN.
func EmptyDB(t testing.TB) string {
	t.Helper()
	return newDatabase(t, false)
}

// TestTx returns a transaction on a migrated database that is rolled back when the test ends.
func TestTx(t testing.TB) pgx.Tx {
	t.Helper()
	pool, _ := TestDB(t)
	tx, err := pool.Begin(context.Background())
	if err != nil {
		t.Fatalf("begin test tx: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	return tx
}

func newDatabase(t testing.TB, migrated bool) string {
	t.Helper()
	ctx := context.Background()
	admin := ServerURL(t)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to test server: %v", err)
	}
	defer conn.Close(ctx)

	name := "hogsend_test_" + randomHex(6)
	if !migrated {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatalf("create test database: %v", err)
		}
	} else {
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", templateLock); err != nil {
			t.Fatalf("lock template: %v", err)
		}
		tmpl, err := ensureTemplate(ctx, conn, admin)
		if err == nil {
			_, err = conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl))
		}
		_, _ = conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", templateLock)
		if err != nil {
			t.Fatalf("create migrated test database: %v", err)
		}
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return withDatabase(admin, name)
}

// ensureTemplate creates (once per migration set) a database migrated to the engine schema.
func ensureTemplate(ctx context.Context, conn *pgx.Conn, admin string) (string, error) {
	migs, err := schema.Engine().Migrations()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range migs {
		h.Write([]byte(m.Tag + m.Checksum))
	}
	name := "hogsend_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12]
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+building+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return "", err
	}
	m := &schema.Migrator{DatabaseURL: withDatabase(admin, building), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := m.Up(ctx, schema.Engine()); err != nil {
		return "", fmt.Errorf("migrate template: %w", err)
	}
	// Renamed only once complete, so a crashed run never leaves a half-built template behind.
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, name)); err != nil {
		return "", err
	}
	return name, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(hex.EncodeToString(b))
}

// Subscribe adds an enabled webhook endpoint for eventTypes at url, so a test can read the
// deliveries an emit makes (webhook_deliveries.payload is the envelope).
func Subscribe(t testing.TB, db interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}, url string, eventTypes ...string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO webhook_endpoints (url, secret, secret_prefix, event_types)
		VALUES ($1, 'whsec_dGVzdA==', 'whsec_dGVzd', to_jsonb($2::text[]))`, url, eventTypes); err != nil {
		t.Fatalf("subscribe %s: %v", url, err)
	}
}
