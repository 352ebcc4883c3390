package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/schema/schematest"
)

// A batch of claims moves each delivery once, only from the status its claimer read; the same
// delivery named twice in one batch goes to its first claim.
func TestClaimDeliveriesIsACompareAndSetPerDelivery(t *testing.T) {
	tx := schematest.TestTx(t)
	ctx := context.Background()
	var endpoint, a, b string
	require.NoError(t, tx.QueryRow(ctx, `INSERT INTO webhook_endpoints (url, secret, secret_prefix, event_types)
		VALUES ('https://x.example', 'whsec_x', 'whsec_x', '["contact.created"]') RETURNING id::text`).Scan(&endpoint))
	for _, id := range []*string{&a, &b} {
		require.NoError(t, tx.QueryRow(ctx, `INSERT INTO webhook_deliveries (endpoint_id, webhook_id, event_type, payload)
			VALUES ($1, 'msg_1', 'contact.created', '{}') RETURNING id::text`, endpoint).Scan(id))
	}
	got, err := store.ClaimDeliveries(ctx, tx, []store.DeliveryClaim{{ID: a, Previous: "pending"}, {ID: a, Previous: "pending"},
		{ID: b, Previous: "failed"}})
	require.NoError(t, err)
	require.Equal(t, []bool{true, false, false}, got)
	got, err = store.ClaimDeliveries(ctx, tx, []store.DeliveryClaim{{ID: a, Previous: "pending"}, {ID: b, Previous: "pending"}})
	require.NoError(t, err)
	require.Equal(t, []bool{false, true}, got, "a is sending already")

	status := 200
	require.NoError(t, store.RecordDelivered(ctx, tx, store.DeliveredAttempt{Delivery: store.Delivery{ID: a}, Result: store.AttemptResult{Attempts: 1, ResponseStatus: &status}},
		store.DeliveredAttempt{Delivery: store.Delivery{ID: b}, Result: store.AttemptResult{Attempts: 1}}))
	var delivered int
	var last *string
	require.NoError(t, tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'delivered' AND delivered_at IS NOT NULL) FROM webhook_deliveries`).Scan(&delivered))
	require.NoError(t, tx.QueryRow(ctx, `SELECT last_delivery_at::text FROM webhook_endpoints`).Scan(&last))
	require.Equal(t, 2, delivered)
	require.NotNil(t, last)
}

// The deliverer's claim takes due first attempts, oldest first, with what sending needs (a
// disabled endpoint says so); it leaves retries (their workflow's), later ones and rows another
// claimer holds.
func TestClaimFirstAttemptsTakesDueNewDeliveries(t *testing.T) {
	pool, _ := schematest.TestDB(t)
	ctx := context.Background()
	var on, off string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO webhook_endpoints (url, secret, secret_prefix, event_types)
		VALUES ('https://on.example/hook', 'whsec_on', 'whsec_on', '[]') RETURNING id::text`).Scan(&on))
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO webhook_endpoints (url, secret, secret_prefix, event_types, disabled)
		VALUES ('https://off.example/hook', 'whsec_off', 'whsec_off', '[]', true) RETURNING id::text`).Scan(&off))
	insert := func(endpoint, webhookID string, attempts int, due string) string {
		var id string
		require.NoError(t, pool.QueryRow(ctx, `INSERT INTO webhook_deliveries (endpoint_id, webhook_id, event_type, payload, attempt_count, next_retry_at)
			VALUES ($1, $2, 'contact.created', '{"b": 1, "a": 2}', $3, now() + $4::interval) RETURNING id::text`,
			endpoint, webhookID, attempts, due).Scan(&id))
		return id
	}
	second := insert(on, "msg_second", 0, "-1 second")
	first := insert(on, "msg_first", 0, "-2 seconds")
	held := insert(on, "msg_held", 0, "-3 seconds")
	insert(on, "msg_retry", 1, "-1 second")
	insert(on, "msg_later", 0, "1 minute")
	disabled := insert(off, "msg_disabled", 0, "-1500 milliseconds")

	other, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer other.Rollback(ctx)
	_, err = other.Exec(ctx, `SELECT 1 FROM webhook_deliveries WHERE id = $1 FOR UPDATE`, held)
	require.NoError(t, err)

	got, err := store.ClaimFirstAttempts(ctx, pool, 10)
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, []string{first, disabled, second}, []string{got[0].Delivery.ID, got[1].Delivery.ID, got[2].Delivery.ID})
	require.True(t, got[1].Endpoint.Disabled)
	c := got[0]
	require.Equal(t, store.Endpoint{ID: on, URL: "https://on.example/hook", Secret: "whsec_on"}, c.Endpoint)
	require.Equal(t, "msg_first", c.Delivery.WebhookID)
	require.Equal(t, "pending", c.Delivery.Status, "as read before the claim")
	require.JSONEq(t, `{"a": 2, "b": 1}`, string(c.Delivery.Payload))
	var sending int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE status = 'sending' AND last_attempt_at IS NOT NULL`).Scan(&sending))
	require.Equal(t, 3, sending)

	again, err := store.ClaimFirstAttempts(ctx, pool, 10)
	require.NoError(t, err)
	require.Empty(t, again, "claimed once")
}
