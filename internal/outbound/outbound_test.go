package outbound_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

func TestEmitFansOutToSubscribedEndpointsOnce(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO webhook_endpoints (url, secret, secret_prefix, event_types, disabled) VALUES
		('http://a.example/hook', 'whsec_a', 'whsec_a', '["contact.created"]', false),
		('http://b.example/hook', 'whsec_b', 'whsec_b', '["contact.created", "contact.deleted"]', false),
		('http://c.example/hook', 'whsec_c', 'whsec_c', '["contact.deleted"]', false),
		('http://d.example/hook', 'whsec_d', 'whsec_d', '["contact.created"]', true)`)
	require.NoError(t, err)

	// Recorded as an outbox row (as the coalesced send marks do), the dispatcher fans it out.
	d := &outbox.Dispatcher{DB: pool}
	kicks := &countKicks{}
	outbound.Register(d, pool, kicks)
	intent := outbound.Emit(outbound.ContactCreated, map[string]any{"id": "c1"}, "", time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC))
	rows, err := outbox.Rows([]outbox.Intent{intent})
	require.NoError(t, err)
	_, err = store.InsertOutbox(ctx, pool, rows)
	require.NoError(t, err)
	n, err := d.DispatchOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 1, kicks.n, "the deliverer is told")

	var count int
	var payload []byte
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), min(payload::text) FROM webhook_deliveries`).Scan(&count, &payload))
	require.Equal(t, 2, count)
	var env map[string]any
	require.NoError(t, json.Unmarshal(payload, &env))
	require.Equal(t, "contact.created", env["type"])
	require.Equal(t, "2026-01-02T03:04:05.006Z", env["timestamp"])
	require.Equal(t, map[string]any{"id": "c1"}, env["data"])

	// Performing the same intent again (a lease that expired mid-flight) adds nothing.
	_, err = pool.Exec(ctx, `UPDATE outbox SET dispatched_at = NULL, next_attempt_at = now()`)
	require.NoError(t, err)
	_, err = d.DispatchOnce(ctx)
	require.NoError(t, err)
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries`).Scan(&count))
	require.Equal(t, 2, count)

	// Appended in a transaction, an emit inserts its deliveries there and writes no outbox row;
	// rolled back, it leaves none.
	for _, commit := range []bool{false, true} {
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		ids, err := outbox.Append(ctx, tx, []outbox.Intent{outbound.Emit(outbound.ContactCreated, map[string]any{"id": "c2"}, "", time.Now())})
		require.NoError(t, err)
		require.Empty(t, ids, "no outbox row")
		if commit {
			require.NoError(t, tx.Commit(ctx))
		} else {
			require.NoError(t, tx.Rollback(ctx))
		}
	}
	var outboxRows int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE payload->>'data' LIKE '%c2%'), (SELECT count(*) FROM outbox)
		FROM webhook_deliveries`).Scan(&count, &outboxRows))
	require.Equal(t, 2, count, "one per subscribed endpoint, once")
	require.Equal(t, 1, outboxRows, "the first emit's row only")
}

type countKicks struct{ n int }

func (k *countKicks) Kick() { k.n++ }

func TestDispatcherRetriesWithBackoffAndUnknownKinds(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	ctx := context.Background()
	d := &outbox.Dispatcher{DB: pool}
	fails := 1
	d.Handle("test.flaky", func(context.Context, json.RawMessage) error {
		if fails > 0 {
			fails--
			return context.DeadlineExceeded
		}
		return nil
	})
	d.Handle("test.bad", func(context.Context, json.RawMessage) error { return outbox.Permanent(context.Canceled) })
	_, err := outbox.Append(ctx, pool, []outbox.Intent{{Kind: "test.flaky"}, {Kind: "test.bad"}, {Kind: "test.nobody"},
		{Kind: "test.flaky", DedupeKey: "once"}, {Kind: "test.flaky", DedupeKey: "once"}})
	require.NoError(t, err)
	var rows int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&rows))
	require.Equal(t, 4, rows, "a repeated dedupe key is dropped")

	_, err = d.DispatchOnce(ctx)
	require.NoError(t, err)
	pending, err := pendingKinds(ctx, pool)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"test.flaky", "test.nobody"}, pending, "the failure waits for its retry; the permanent one is done")

	_, err = pool.Exec(ctx, `UPDATE outbox SET next_attempt_at = now() WHERE dispatched_at IS NULL`)
	require.NoError(t, err)
	_, err = d.DispatchOnce(ctx)
	require.NoError(t, err)
	pending, err = pendingKinds(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, []string{"test.nobody"}, pending, "a kind no process handles stays pending")

	require.Equal(t, time.Minute, outbox.Backoff(100).Round(time.Minute))
	require.Less(t, outbox.Backoff(1), 2*time.Second)
}

func pendingKinds(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT kind FROM outbox WHERE dispatched_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func TestPoisonAndPermanentRowsAreDeadLettered(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	ctx := context.Background()
	d := &outbox.Dispatcher{DB: pool, MaxAttempts: 3}
	d.Handle("test.poison", func(context.Context, json.RawMessage) error { return errors.New("receiver says no") })
	d.Handle("test.bad", func(context.Context, json.RawMessage) error { return outbox.Permanent(errors.New("undecodable")) })
	_, err := outbox.Append(ctx, pool, []outbox.Intent{{Kind: "test.poison", Payload: map[string]any{"n": 1}}, {Kind: "test.bad"}})
	require.NoError(t, err)
	for range 3 {
		_, err = d.DispatchOnce(ctx)
		require.NoError(t, err)
		_, err = pool.Exec(ctx, `UPDATE outbox SET next_attempt_at = now() WHERE dispatched_at IS NULL`)
		require.NoError(t, err)
	}
	pending, err := pendingKinds(ctx, pool)
	require.NoError(t, err)
	require.Empty(t, pending, "the poison row stopped after its third attempt")

	type dead struct {
		Source, Error string
		Retries       int
		Payload       map[string]any
	}
	rows, err := pool.Query(ctx, `SELECT source, error, retry_count, payload FROM dead_letter_queue ORDER BY source`)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dead, error) {
		var x dead
		return x, r.Scan(&x.Source, &x.Error, &x.Retries, &x.Payload)
	})
	require.NoError(t, err)
	require.Equal(t, []dead{
		{Source: "outbox:test.bad", Error: "undecodable", Retries: 1},
		{Source: "outbox:test.poison", Error: "receiver says no", Retries: 3, Payload: map[string]any{"n": float64(1)}},
	}, got)
	var marked int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE dead_lettered_at IS NOT NULL`).Scan(&marked))
	require.Equal(t, 2, marked)
}

func TestDedupeKeysOutliveADayOfRetries(t *testing.T) {
	t.Parallel()
	pool, _ := schematest.TestDB(t)
	ctx := context.Background()
	_, err := outbox.Append(ctx, pool, []outbox.Intent{{Kind: "test.a", DedupeKey: "recent"}, {Kind: "test.a", DedupeKey: "old"}})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE outbox SET dispatched_at = now() - CASE dedupe_key WHEN 'recent' THEN interval '2 days' ELSE interval '8 days' END`)
	require.NoError(t, err)
	pruned, err := store.PruneOutbox(ctx, pool, outbox.Retention)
	require.NoError(t, err)
	require.EqualValues(t, 1, pruned)
	ids, err := outbox.Append(ctx, pool, []outbox.Intent{{Kind: "test.a", DedupeKey: "recent"}})
	require.NoError(t, err)
	require.Empty(t, ids, "a duplicate two days later is still dropped")
}
