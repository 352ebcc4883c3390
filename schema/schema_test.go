package schema_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/schema"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

func newMigrator(dsn string) (*schema.Migrator, *bytes.Buffer) {
	var logs bytes.Buffer
	return &schema.Migrator{DatabaseURL: dsn, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, &logs
}

func readStatus(t *testing.T, dsn string, track schema.Track) schema.Status {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	st, err := schema.ReadStatus(ctx, conn, track)
	require.NoError(t, err)
	require.NoError(t, st.LedgerError)
	return st
}

func TestEngineMigrationsApplyOnceThenNoOp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := schematest.EmptyDB(t)
	engine := schema.Engine()
	migs, err := engine.Migrations()
	require.NoError(t, err)
	require.NotEmpty(t, migs)
	last := migs[len(migs)-1].Tag

	before := readStatus(t, dsn, engine)
	require.False(t, before.InSync)
	require.Nil(t, before.Applied)
	require.Equal(t, last, *before.Required)
	require.Len(t, before.Pending, len(migs))

	m, logs := newMigrator(dsn)
	require.NoError(t, m.Up(ctx, engine))
	require.Contains(t, logs.String(), "[engine] Applying")
	require.Contains(t, logs.String(), "Migrations complete. Schema now at "+last)

	after := readStatus(t, dsn, engine)
	require.True(t, after.InSync)
	require.Equal(t, last, *after.Applied)
	require.Empty(t, after.Pending)

	logs.Reset()
	require.NoError(t, m.Up(ctx, engine))
	require.Contains(t, logs.String(), "[engine] Schema already up to date at "+last+" — nothing to apply.")
	require.NotContains(t, logs.String(), "Applying")
}

func TestDeletedLedgerRowShowsPendingAndReapplies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := schematest.EmptyDB(t)
	m, _ := newMigrator(dsn)
	client := schema.Client(fstest.MapFS{
		"0001_widgets.sql": {Data: []byte("CREATE TABLE widgets (id int PRIMARY KEY);")},
		"0002_gadgets.sql": {Data: []byte("CREATE TABLE gadgets (id int PRIMARY KEY);")},
	})
	require.NoError(t, m.Up(ctx, schema.Engine(), client))
	require.True(t, readStatus(t, dsn, client).InSync)

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DELETE FROM schema_migrations WHERE track = 'client' AND version = '0002_gadgets'`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `DROP TABLE gadgets`)
	require.NoError(t, err)

	st := readStatus(t, dsn, client)
	require.False(t, st.InSync)
	require.Equal(t, []string{"0002_gadgets"}, st.Pending)
	require.Equal(t, "0001_widgets", *st.Applied)

	require.NoError(t, m.Up(ctx, schema.Engine(), client))
	require.True(t, readStatus(t, dsn, client).InSync)
	_, err = conn.Exec(ctx, `INSERT INTO gadgets VALUES (1)`)
	require.NoError(t, err)
}

func TestFailedMigrationRollsBackAndStopsLaterTracks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := schematest.EmptyDB(t)
	m, _ := newMigrator(dsn)
	broken := schema.Track{Name: schema.TrackEngine, FS: fstest.MapFS{
		"0001_ok.sql":  {Data: []byte("CREATE TABLE ok_table (id int);")},
		"0002_bad.sql": {Data: []byte("CREATE TABLE half (id int); SELECT no_such_function();")},
	}}
	client := schema.Client(fstest.MapFS{"0001_c.sql": {Data: []byte("CREATE TABLE c (id int);")}})
	err := m.Up(ctx, broken, client)
	require.Error(t, err)
	require.Contains(t, err.Error(), "0002_bad")

	st := readStatus(t, dsn, broken)
	require.Equal(t, []string{"0002_bad"}, st.Pending)
	require.False(t, readStatus(t, dsn, client).InSync, "client track must not run after an engine failure")

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var half bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT to_regclass('half') IS NOT NULL`).Scan(&half))
	require.False(t, half, "a failed file must leave nothing behind")
}

func TestEmptyClientTrackIsInSync(t *testing.T) {
	t.Parallel()
	dsn := schematest.EmptyDB(t)
	st := readStatus(t, dsn, schema.Client(nil))
	require.True(t, st.InSync)
	require.Nil(t, st.Required)
	require.Nil(t, st.Applied)
	require.Empty(t, st.Pending)
}

func TestStampRecordsWithoutRunning(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := schematest.EmptyDB(t)
	m, _ := newMigrator(dsn)
	require.NoError(t, m.Stamp(ctx, schema.Engine()))
	require.True(t, readStatus(t, dsn, schema.Engine()).InSync)

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var contacts bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT to_regclass('contacts') IS NOT NULL`).Scan(&contacts))
	require.False(t, contacts)
}

func TestConcurrentMigrateRunsApplyOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := schematest.EmptyDB(t)
	const runs = 3
	errs := make(chan error, runs)
	logs := make([]*bytes.Buffer, runs)
	for i := range runs {
		m, buf := newMigrator(dsn)
		logs[i] = buf
		go func() { errs <- m.Up(ctx, schema.Engine()) }()
	}
	for range runs {
		require.NoError(t, <-errs)
	}
	applied := 0
	for _, buf := range logs {
		applied += strings.Count(buf.String(), "[engine] Applying")
	}
	require.Equal(t, 1, applied, "the advisory lock lets exactly one run apply the files")
	require.True(t, readStatus(t, dsn, schema.Engine()).InSync)
}

func TestStatusDescribe(t *testing.T) {
	t.Parallel()
	applied, required := "0001_a", "0002_b"
	s := schema.Status{Applied: &applied, Required: &required, Pending: []string{"0002_b"}}
	require.Equal(t, "required 0002_b, applied 0001_a, pending 0002_b", s.Describe())
	empty := schema.Status{Required: &required, Pending: []string{"0001_a", "0002_b"}}
	require.True(t, strings.Contains(empty.Describe(), "applied (empty)"))
}
