package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/api"
)

// oasSchema compiles the OpenAPI 3.1 schema (schema-base: Schema Objects checked against the
// OAS dialect) from testdata, with no network.
func oasSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	for url, file := range map[string]string{
		"https://spec.openapis.org/oas/3.1/schema/2021-04-15":      "schema.json",
		"https://spec.openapis.org/oas/3.1/schema-base/2021-04-15": "schema-base.json",
		"https://spec.openapis.org/oas/3.1/dialect/base":           "dialect-base.schema.json",
		"https://spec.openapis.org/oas/3.1/meta/base":              "meta-base.schema.json",
	} {
		raw, err := os.ReadFile("testdata/openapi-3.1/" + file)
		require.NoError(t, err)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		require.NoError(t, err)
		require.NoError(t, c.AddResource(url, doc))
	}
	s, err := c.Compile("https://spec.openapis.org/oas/3.1/schema-base/2021-04-15")
	require.NoError(t, err)
	return s
}

// Platform §14 and §18 15: the document covers exactly the mounted routes and is valid
// OpenAPI 3.1; production serves neither it nor the docs page.
func TestOpenAPIDocumentsEveryMountedRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res := b.do(t, http.MethodGet, "/openapi.json", "", nil)
	require.Equal(t, http.StatusOK, res.Code)
	doc := res.json()
	require.Equal(t, "3.1.0", doc["openapi"])
	require.Equal(t, api.APIVersion, doc["info"].(map[string]any)["version"])

	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(res.Body.Bytes()))
	require.NoError(t, err)
	schema := oasSchema(t)
	require.NoError(t, schema.Validate(inst))
	broken := map[string]any{}
	for k, v := range inst.(map[string]any) {
		broken[k] = v
	}
	broken["paths"] = map[string]any{"/v1/health": map[string]any{"get": map[string]any{"responses": map[string]any{"2XX": map[string]any{}}}}}
	require.Error(t, schema.Validate(broken), "the validator refuses a response without a description")

	documented := map[string]bool{}
	param := regexp.MustCompile(`\{([A-Za-z]+)\}`)
	for path, ops := range doc["paths"].(map[string]any) {
		for method := range ops.(map[string]any) {
			documented[strings.ToUpper(method)+" "+param.ReplaceAllString(path, ":$1")] = true
		}
	}
	mounted := map[string]bool{}
	for _, r := range b.srv.Mounted() {
		if r == "GET /openapi.json" || r == "GET /docs" {
			continue
		}
		mounted[r] = true
		require.True(t, documented[r], "%s is mounted but not documented", r)
	}
	for r := range documented {
		require.True(t, mounted[r], "%s is documented but not mounted", r)
	}

	body := doc["paths"].(map[string]any)["/v1/admin/api-keys"].(map[string]any)["post"].(map[string]any)["requestBody"]
	raw, _ := json.Marshal(body)
	require.Contains(t, string(raw), `"expiresAt"`)

	// Real answers match what the document says of them.
	paths := doc["paths"].(map[string]any)
	answerSchema := func(path, method string) *jsonschema.Schema {
		t.Helper()
		op := paths[path].(map[string]any)[method].(map[string]any)
		schema := op["responses"].(map[string]any)["2XX"].(map[string]any)["content"].(map[string]any)["application/json"].(map[string]any)["schema"]
		raw, _ := json.Marshal(schema)
		parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		require.NoError(t, err)
		c := jsonschema.NewCompiler()
		require.NoError(t, c.AddResource("answer.json", parsed))
		compiled, err := c.Compile("answer.json")
		require.NoError(t, err)
		return compiled
	}
	created := b.do(t, http.MethodPost, "/v1/admin/alerts/rules", legacyKey, map[string]any{"name": "r", "type": "delivery_issue",
		"threshold": 0.9, "channel": "slack", "channelConfig": map[string]any{"webhookUrl": "https://hooks.slack.com/x"}})
	for _, call := range []struct {
		method, path, url string
		body              any
		res               response
	}{
		{method: "put", path: "/v1/contacts", res: b.do(t, http.MethodPut, "/v1/contacts", legacyKey, map[string]any{"userId": "oa-1", "email": "oa@x.io"})},
		{method: "get", path: "/v1/contacts/find", res: b.do(t, http.MethodGet, "/v1/contacts/find?userId=oa-1", legacyKey, nil)},
		{method: "post", path: "/v1/events", res: b.do(t, http.MethodPost, "/v1/events", legacyKey, map[string]any{"name": "x", "userId": "oa-1"})},
		{method: "get", path: "/v1/health", res: b.do(t, http.MethodGet, "/v1/health", legacyKey, nil)},
		{method: "get", path: "/v1/admin/api-keys", res: b.do(t, http.MethodGet, "/v1/admin/api-keys", legacyKey, nil)},
		{method: "post", path: "/v1/admin/alerts/rules", res: created},
		{method: "get", path: "/v1/admin/alerts/rules", res: b.do(t, http.MethodGet, "/v1/admin/alerts/rules", legacyKey, nil)},
		{method: "get", path: "/v1/admin/audit-logs", res: b.do(t, http.MethodGet, "/v1/admin/audit-logs", legacyKey, nil)},
		{method: "get", path: "/v1/admin/contacts/{id}", res: b.do(t, http.MethodGet, "/v1/admin/contacts/oa-1", legacyKey, nil)},
		{method: "get", path: "/v1/admin/metrics/overview", res: b.do(t, http.MethodGet, "/v1/admin/metrics/overview", legacyKey, nil)},
	} {
		require.Less(t, call.res.Code, 300, "%s %s: %s", call.method, call.path, call.res.Body.String())
		answer, err := jsonschema.UnmarshalJSON(bytes.NewReader(call.res.Body.Bytes()))
		require.NoError(t, err)
		require.NoError(t, answerSchema(call.path, call.method).Validate(answer), "%s %s answered %s", call.method, call.path, call.res.Body.String())
	}
	wrong, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"id": 7, "created": "yes"}`))
	require.Error(t, answerSchema("/v1/contacts", "put").Validate(wrong), "the answer schemas are checked")

	require.Equal(t, http.StatusOK, b.do(t, http.MethodGet, "/docs", "", nil).Code)
	prod := setupWith(t, func(c *api.Config) { c.Production = true })
	require.Equal(t, http.StatusNotFound, prod.do(t, http.MethodGet, "/openapi.json", "", nil).Code)
	require.Equal(t, http.StatusNotFound, prod.do(t, http.MethodGet, "/docs", "", nil).Code)
}
