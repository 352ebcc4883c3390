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
