package hogsend

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/schema/schematest"
)

func postJSON(t *testing.T, url string, body any) (int, map[string]any) {
	t.Helper()
	return requestJSON(t, http.MethodPost, url, testAdminKey, body)
}

// importJob starts an import and waits for it to finish.
func importJob(t *testing.T, base string, body map[string]any) map[string]any {
	t.Helper()
	code, started := postJSON(t, base+"/v1/admin/contacts/import", body)
	require.Equal(t, http.StatusAccepted, code, started)
	require.Equal(t, "pending", started["status"])
	var job map[string]any
	waitUntil(t, "the import to finish", func() bool {
		_, job = getJSON(t, base+"/v1/admin/contacts/import/"+started["jobId"].(string), testAdminKey)
		return job["status"] == "completed" || job["status"] == "failed"
	})
	return job
}

func TestContactImport(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	e, _ := testEngine(t, testEnv(t, dsn, true))
	base := serve(t, e)
	runWorker(t, e)

	job := importJob(t, base, map[string]any{"format": "csv", "data": "externalId,email,plan\nimp1,imp1@x.com,pro\n,,\n"})
	require.Equal(t, "completed", job["status"])
	require.EqualValues(t, 2, job["totalRows"])
	require.EqualValues(t, 1, job["processedRows"])
	require.EqualValues(t, 1, job["failedRows"])
	errs := job["errors"].([]any)
	require.Equal(t, map[string]any{"row": float64(1), "error": "Row has neither externalId nor email"}, errs[0])
	_, found := getJSON(t, base+"/v1/contacts/find?userId=imp1", testAdminKey)
	require.Equal(t, "pro", found["contacts"].([]any)[0].(map[string]any)["properties"].(map[string]any)["plan"])

	// A batch in which every row succeeds.
	job = importJob(t, base, map[string]any{"format": "csv", "data": "email,plan\nok1@x.com,free\nok2@x.com,pro\n"})
	require.Equal(t, "completed", job["status"])
	require.EqualValues(t, 2, job["processedRows"])
	require.Nil(t, job["errors"])

	job = importJob(t, base, map[string]any{"format": "csv", "data": "name\nbob"})
	require.Equal(t, "failed", job["status"])
	require.Nil(t, job["totalRows"])
	first := job["errors"].([]any)[0].(map[string]any)
	require.EqualValues(t, 0, first["row"])
	require.True(t, strings.HasPrefix(first["error"].(string), "Parse error"), first["error"])

	// JSON rows with wrong types fail on their own; more than 100 errors are cut to 100; batches
	// of 500 cover every row.
	var rows []any
	for i := range 1100 {
		switch {
		case i%10 == 0:
			rows = append(rows, map[string]any{"externalId": 42})
		default:
			rows = append(rows, map[string]any{"externalId": fmt.Sprintf("bulk-%d", i), "properties": map[string]any{"i": i}})
		}
	}
	data, err := json.Marshal(rows)
	require.NoError(t, err)
	job = importJob(t, base, map[string]any{"format": "json", "data": string(data), "fileName": "bulk.json"})
	require.Equal(t, "completed", job["status"])
	require.EqualValues(t, 1100, job["totalRows"])
	require.EqualValues(t, 990, job["processedRows"])
	require.EqualValues(t, 110, job["failedRows"])
	require.Len(t, job["errors"], 100)
	require.Equal(t, "externalId must be a string", job["errors"].([]any)[0].(map[string]any)["error"])

	// An empty array fails (0 of 0), JSON that is not an array is a parse error.
	require.Equal(t, "failed", importJob(t, base, map[string]any{"format": "json", "data": "[]"})["status"])
	require.Equal(t, "failed", importJob(t, base, map[string]any{"format": "json", "data": `{"a":1}`})["status"])

	code, _ := getJSON(t, base+"/v1/admin/contacts/import/00000000-0000-4000-8000-000000000000", testAdminKey)
	require.Equal(t, http.StatusNotFound, code)
	code, _ = getJSON(t, base+"/v1/admin/contacts/import/abc", testAdminKey)
	require.Equal(t, http.StatusBadRequest, code)

	var leftovers int
	require.NoError(t, e.pool.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM import_job_rows) + (SELECT count(*) FROM import_job_payloads)`).Scan(&leftovers))
	require.Zero(t, leftovers, "finished jobs drop their upload")
}
