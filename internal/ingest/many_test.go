package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/contacts"
	"github.com/hogsend/hogsend/internal/ingest"
)

func TestBatchMixesSetBasedAndFullPaths(t *testing.T) {
	t.Parallel()
	b := setup(t)
	a := b.upsert(t, contacts.Identity{UserID: "uA", Email: "a@x.com"}).Contact
	loser := b.upsert(t, contacts.Identity{Email: "b@x.com"}).Contact
	before := b.one(t, `SELECT last_seen_at FROM contacts WHERE id = $1`, a.ID).(time.Time)

	items, err := b.svc.IngestBatch(context.Background(), []ingest.Event{
		{Name: "known", UserID: "uA"},                                            // set-based
		{Name: "known-by-email", Email: "B@x.com"},                               // set-based, keyed by the loser's id
		{Name: "new", UserID: "fresh"},                                           // full path: creates
		{Name: "merge", UserID: "uA", Email: "b@x.com"},                          // full path: merges the loser into uA
		{Name: "props", UserID: "uA", ContactProperties: map[string]any{"p": 1}}, // full path: patch
		{Name: "dup", UserID: "uA", IdempotencyKey: "k"},
		{Name: "dup", UserID: "uA", IdempotencyKey: "k"}, // repeat inside the batch
		{Name: "", UserID: "uA"},                         // invalid
	})
	require.NoError(t, err)
	for i, want := range []bool{true, true, true, true, true, true, false} {
		require.NoError(t, items[i].Err, i)
		require.Equal(t, want, items[i].Result.Stored, i)
	}
	require.Error(t, items[7].Err)

	// The merge ran after the set-based inserts, so it moved the loser-keyed event too.
	require.EqualValues(t, 0, b.one(t, `SELECT count(*) FROM user_events WHERE user_id = $1`, loser.ID))
	require.EqualValues(t, 5, b.one(t, `SELECT count(*) FROM user_events WHERE user_id = 'uA'`)) // known, known-by-email, merge, props, dup
	require.EqualValues(t, 1, b.one(t, `SELECT count(*) FROM user_events WHERE user_id = 'fresh'`))
	require.EqualValues(t, 1, b.one(t, `SELECT (properties->>'p')::int FROM contacts WHERE id = $1`, a.ID))
	after := b.one(t, `SELECT last_seen_at FROM contacts WHERE id = $1`, a.ID).(time.Time)
	require.True(t, after.After(before), "a set-based event marks its contact seen")
	// Events keep their order within the set.
	require.EqualValues(t, "known", b.one(t, `SELECT event FROM user_events WHERE user_id = 'uA' ORDER BY occurred_at, id LIMIT 1`))
}
