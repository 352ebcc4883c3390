package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestEmailStatusOnlyMovesForward(t *testing.T) {
	t.Parallel()
	tx := schematest.TestTx(t)
	ctx := context.Background()
	insert := func(providerID, status string) {
		_, err := tx.Exec(ctx, `INSERT INTO email_sends (resend_id, from_email, to_email, subject, status)
			VALUES ($1, 'a@x.com', 'b@x.com', 's', $2)`, providerID, status)
		require.NoError(t, err)
	}
	state := func(providerID string) (status string, opened, delivered bool) {
		require.NoError(t, tx.QueryRow(ctx, `SELECT status::text, opened_at IS NOT NULL, delivered_at IS NOT NULL
			FROM email_sends WHERE resend_id = $1`, providerID).Scan(&status, &opened, &delivered))
		return
	}
	insert("p1", "sent")
	ids, err := store.AdvanceEmailStatus(ctx, tx, "p1", "opened")
	require.NoError(t, err)
	require.Len(t, ids, 1)
	_, err = store.AdvanceEmailStatus(ctx, tx, "p1", "delivered") // late: sets its time, keeps the status
	require.NoError(t, err)
	status, opened, delivered := state("p1")
	require.Equal(t, "opened", status)
	require.True(t, opened)
	require.True(t, delivered)
	_, err = store.AdvanceEmailStatus(ctx, tx, "p1", "bounced")
	require.NoError(t, err)
	status, _, _ = state("p1")
	require.Equal(t, "bounced", status)

	insert("p2", "failed")
	_, err = store.AdvanceEmailStatus(ctx, tx, "p2", "delivered")
	require.NoError(t, err)
	status, _, _ = state("p2")
	require.Equal(t, "failed", status, "a failed send is not revived by delivery events")
	_, err = store.AdvanceEmailStatus(ctx, tx, "p2", "complained")
	require.NoError(t, err)
	status, _, _ = state("p2")
	require.Equal(t, "complained", status)

	ids, err = store.AdvanceEmailStatus(ctx, tx, "unknown", "sent")
	require.NoError(t, err)
	require.Empty(t, ids)
	_, err = store.AdvanceEmailStatus(ctx, tx, "p1", "queued")
	require.Error(t, err)
}
