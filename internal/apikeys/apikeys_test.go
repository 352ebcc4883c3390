package apikeys_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

func TestGenerateFormat(t *testing.T) {
	t.Parallel()
	token, prefix, hash := apikeys.Generate()
	require.Regexp(t, regexp.MustCompile(`^hsk_[A-Za-z0-9_-]{43}$`), token)
	require.Equal(t, token[:8], prefix)
	sum := sha256.Sum256([]byte(token))
	require.Equal(t, hex.EncodeToString(sum[:]), hash, "plain SHA-256, so externally inserted keys interoperate")
	other, _, _ := apikeys.Generate()
	require.NotEqual(t, token, other)
}

func TestLegacyKey(t *testing.T) {
	t.Parallel()
	s := &apikeys.Service{LegacyKey: "root-token"}
	id, err := s.Authenticate(context.Background(), "root-token")
	require.NoError(t, err)
	require.Equal(t, apikeys.Legacy, id)
	_, err = s.Authenticate(context.Background(), "")
	require.ErrorIs(t, err, apikeys.ErrUnauthorized)
}

func TestMintFirstMintsOnceAcrossConcurrentBoots(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	s := &apikeys.Service{DB: pool}
	const boots = 5
	var wg sync.WaitGroup
	minted := make(chan string, boots)
	for range boots {
		wg.Go(func() {
			k, ok, err := s.MintFirst(context.Background(), apikeys.NewKey{Name: "bootstrap", Scopes: []apikeys.Scope{apikeys.FullAdmin}})
			require.NoError(t, err)
			if ok {
				minted <- k.Token
			}
		})
	}
	wg.Wait()
	close(minted)
	require.Len(t, minted, 1, "replicas booting together mint one key")
	keys, total, err := s.List(context.Background(), true, 10, 0)
	require.NoError(t, err)
	require.Equal(t, 1, total)
	require.Equal(t, []string{"full-admin"}, keys[0].Scopes)
}

func TestCreateDedupesScopesAndDefaultsToRead(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	s := &apikeys.Service{DB: pool}
	k, err := s.Create(context.Background(), apikeys.NewKey{Name: "a"})
	require.NoError(t, err)
	require.Equal(t, []string{"read"}, k.Scopes)
	k, err = s.Create(context.Background(), apikeys.NewKey{Name: "b", Scopes: []apikeys.Scope{apikeys.Ingest, apikeys.Ingest, apikeys.Read}})
	require.NoError(t, err)
	require.Equal(t, []string{"ingest", "read"}, k.Scopes)
}

// countingDB counts the rows it is asked for.
type countingDB struct {
	store.DBTX
	queries atomic.Int32
}

func (d *countingDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	d.queries.Add(1)
	return d.DBTX.QueryRow(ctx, sql, args...)
}

func TestABogusTokenCostsOneLookupPerInterval(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	db := &countingDB{DBTX: pool}
	now := time.Now()
	s := &apikeys.Service{DB: db, Now: func() time.Time { return now }}
	for range 50 {
		_, err := s.Authenticate(context.Background(), "hsk_bogus")
		require.ErrorIs(t, err, apikeys.ErrUnauthorized)
	}
	require.EqualValues(t, 1, db.queries.Load())
	now = now.Add(apikeys.UnknownTTL)
	_, err := s.Authenticate(context.Background(), "hsk_bogus")
	require.ErrorIs(t, err, apikeys.ErrUnauthorized)
	require.EqualValues(t, 2, db.queries.Load(), "the refusal is brief")

	// A real key is unaffected.
	k, err := s.Create(context.Background(), apikeys.NewKey{Name: "real"})
	require.NoError(t, err)
	_, err = s.Authenticate(context.Background(), k.Token)
	require.NoError(t, err)
}
