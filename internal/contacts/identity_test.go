package contacts_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/contacts"
	"github.com/hogsend/hogsend/schema/schematest"
)

func TestMain(m *testing.M) { schematest.Main(m) }

func TestCreateNewCreatesOnlyIdentitiesNoneOfWhoseKeysIsKnownOrRepeated(t *testing.T) {
	t.Parallel()
	tx := schematest.TestTx(t)
	ctx := context.Background()
	known, err := contacts.Resolve(ctx, tx, contacts.Identity{UserID: "known", Email: "known@example.com"})
	require.NoError(t, err)

	ids := []contacts.Identity{
		{UserID: "n1"},
		{UserID: "n2", Email: " N2@Example.com ", Patch: map[string]any{"plan": "pro", "gone": nil}},
		{Email: "KNOWN@example.com"},                      // known (case-folded): for Resolve
		{UserID: "dup"}, {Email: "d@x.io", UserID: "dup"}, // a key twice in the set: for Resolve
		{}, // no key: for Resolve
		{UserID: "n3", AnonymousID: "anon-3"},
	}
	got, err := contacts.CreateNew(ctx, tx, ids)
	require.NoError(t, err)
	require.Len(t, got, len(ids))
	for _, i := range []int{2, 3, 4, 5} {
		require.Nil(t, got[i], "%d", i)
	}
	require.Equal(t, "n1", *got[0].ExternalID)
	require.Equal(t, "n2@example.com", *got[1].Email)
	require.Equal(t, map[string]any{"plan": "pro"}, got[1].Properties)
	require.Equal(t, "anon-3", *got[6].AnonymousID)
	require.Equal(t, " N2@Example.com ", ids[1].Email, "the caller's identities are left as given")

	// What it created, Resolve now finds.
	again, err := contacts.Resolve(ctx, tx, contacts.Identity{Email: "n2@example.com"})
	require.NoError(t, err)
	require.False(t, again.Created)
	require.Equal(t, got[1].ID, again.Contact.ID)
	require.NotEqual(t, known.Contact.ID, again.Contact.ID)

	none, err := contacts.CreateNew(ctx, tx, []contacts.Identity{{UserID: "n1"}})
	require.NoError(t, err)
	require.Nil(t, none[0], "a second time, n1 is known")
}
