package api_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hogsend/hogsend/api"
	"github.com/hogsend/hogsend/internal/apikeys"
)

// FuzzEventIngestDecoding sends arbitrary bodies to POST /v1/events and /v1/events/batch: a
// request is either accepted (202) or refused with a 4xx, never a panic or a 5xx. The database
// is never reached for bodies that fail validation; valid ones reach a real test database.
func FuzzEventIngestDecoding(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a","userId":"u"}`, `{"name":"a","email":"a@b.co","eventProperties":{"x":[1,{"y":null}]}}`,
		`{"name":"","userId":"u"}`, `{"name":"a"}`, `{"name":"a","userId":"u","timestamp":"2024-01-01T00:00:00Z"}`,
		`{"name":"a","userId":"u","timestamp":"2024-13-45T99:00:00Z"}`, `{"name":1}`, `[]`, `null`, `{`, ``,
		`{"name":"a","userId":"u","lists":{"x":"yes"}}`, `{"events":[{"name":"a","userId":"u"},1,null]}`, "{\"name\":\"a\",\"userId\":\"\x00\"}",
	} {
		f.Add(seed)
	}
	b := fuzzBundle(f)
	srv := api.New(api.Config{DB: b.pool, Keys: &apikeys.Service{DB: b.pool, LegacyKey: legacyKey}, Ingest: b.ingest,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/v1/events", "/v1/events/batch"} {
			req := httptest.NewRequest(http.MethodPost, path, bytes.NewBufferString(body))
			req.Header.Set("Authorization", "Bearer "+legacyKey)
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req.WithContext(context.Background()))
			if rec.Code != http.StatusAccepted && (rec.Code < 400 || rec.Code >= 500) {
				t.Fatalf("POST %s %q answered %d: %s", path, body, rec.Code, rec.Body.String())
			}
		}
	})
}
