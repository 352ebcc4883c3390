package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/schema/schematest"
)

// A connection keeps the generic plan of a prepared lookup for its life. Made while contacts is
// empty, every plan looks cheap: each key lookup must still search its own index, not scan a
// partial one whose predicate it implies (that cost milliseconds per lookup once the table grew).
func TestContactLookupsSearchTheirIndexInAGenericPlan(t *testing.T) {
	tx := schematest.TestTx(t)
	ctx := context.Background()
	_, err := tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`)
	require.NoError(t, err)
	for _, kind := range []store.IdentityKind{store.KindExternal, store.KindEmail, store.KindAnonymous} {
		_, err := tx.Exec(ctx, `PREPARE lookup(text, text) AS `+store.ContactByIdentitySQL(kind))
		require.NoError(t, err)
		var plan []struct{ Plan planNode }
		require.NoError(t, tx.QueryRow(ctx, `EXPLAIN (FORMAT JSON) EXECUTE lookup('x', '`+string(kind)+`')`).Scan(&plan))
		var scans int
		plan[0].Plan.walk(func(n planNode) {
			if n.Relation != "contacts" {
				return
			}
			scans++
			require.NotEqual(t, "Seq Scan", n.Type, "%s lookup: %+v", kind, plan[0].Plan)
			require.NotEmpty(t, n.IndexCond, "%s lookup scans all of %s", kind, n.Index)
		})
		require.GreaterOrEqual(t, scans, 2, "%s lookup: the key, then the contact", kind)
		_, err = tx.Exec(ctx, `DEALLOCATE lookup`)
		require.NoError(t, err)
	}
}

type planNode struct {
	Type      string     `json:"Node Type"`
	Relation  string     `json:"Relation Name"`
	Index     string     `json:"Index Name"`
	IndexCond string     `json:"Index Cond"`
	Plans     []planNode `json:"Plans"`
}

func (n planNode) walk(f func(planNode)) {
	f(n)
	for _, c := range n.Plans {
		c.walk(f)
	}
}
