package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/api"
	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/schema"
	"github.com/hogsend/hogsend/schema/schematest"
)

// BenchmarkAdminRequest measures GET /v1/admin/api-keys through the engine's whole stack
// (security headers, CORS, request id, log, cached key auth, scope check, validation, query,
// JSON) next to its ceiling in the same run: a bare gin handler running the same query with no
// middleware. pct_of_ceiling is engine throughput as a share of the ceiling's.
func BenchmarkAdminRequest(b *testing.B) {
	pool, _ := schematest.TestDB(b)
	keys := &apikeys.Service{DB: pool}
	k, err := keys.Create(context.Background(), apikeys.NewKey{Name: "bench", Scopes: []apikeys.Scope{apikeys.Read}})
	if err != nil {
		b.Fatal(err)
	}
	srv := api.New(api.Config{DB: pool, Keys: keys, Temporal: &fakeTemporal{}, Tracks: []schema.Track{schema.Engine()}})
	gin.SetMode(gin.ReleaseMode)
	bare := gin.New()
	bare.GET("/v1/admin/api-keys", func(c *gin.Context) {
		list, total, err := store.ListAPIKeys(c, pool, false, 50, 0)
		if err != nil {
			c.Status(http.StatusInternalServerError)
			return
		}
		c.JSON(http.StatusOK, gin.H{"keys": list, "total": total})
	})

	run := func(b *testing.B, h http.Handler) float64 {
		req := httptest.NewRequest(http.MethodGet, "/v1/admin/api-keys", nil)
		req.Header.Set("Authorization", "Bearer "+k.Token)
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
			}
		}
		return float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	}
	var ceilingNs float64
	b.Run("ceiling=bare-query", func(b *testing.B) { ceilingNs = run(b, bare) })
	b.Run("engine=full-stack", func(b *testing.B) {
		ns := run(b, srv)
		b.ReportMetric(100*ceilingNs/ns, "pct_of_ceiling")
	})
}
