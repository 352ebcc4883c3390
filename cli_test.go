package hogsend

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/schema/schematest"
)

// cliRun runs the binary's command line with env as its whole environment.
func cliRun(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	code = Run(context.Background(), append([]string{"hogsend"}, args...), &out, &errs, &Options{LookupEnv: envOf(env)})
	return code, out.String(), errs.String()
}

// cliJSON runs a command with --json and decodes its one document.
func cliJSON(t *testing.T, env map[string]string, args ...string) map[string]any {
	t.Helper()
	code, stdout, stderr := cliRun(t, env, append(args, "--json")...)
	require.Zero(t, code, "%v: %s", args, stderr)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &doc), "exactly one JSON document: %q", stdout)
	return doc
}

// Platform §16 and §18: the operator commands against a booted engine, their renderings and
// exit codes.
func TestOperatorCLIAgainstABootedEngine(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	e, logs := testEngine(t, testEnv(t, dsn, true))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	base := serve(t, e)
	runWorker(t, e)
	noDev := t.TempDir()
	env := map[string]string{"HOGSEND_API_URL": base + "/", "ADMIN_API_KEY": testAdminKey, "HOGSEND_DEV_DIR": noDev}

	// doctor: the verdict and the components; exit 0 only when healthy.
	waitUntil(t, "the worker's heartbeat", func() bool {
		code, stdout, _ := cliRun(t, env, "doctor")
		return code == 0 && strings.Contains(stdout, "worker    up")
	})
	code, stdout, _ := cliRun(t, env, "doctor")
	require.Zero(t, code)
	require.Regexp(t, `^`+base+`: ok\n  version 0\.0\.1, engine \S+, up [0-9.]+s\n  database  up \(\d+ms\)\n  temporal  up \(\d+ms\)\n  worker    up last seen \S+\n  schema engine in sync \(applied \d{4}_\w+\)\n  schema client in sync \(applied -\)\n$`, stdout)
	doc := cliJSON(t, env, "doctor")
	require.Equal(t, []any{true, "ok", base}, []any{doc["ok"], doc["verdict"], doc["baseUrl"]})
	code, stdout, _ = cliRun(t, env, "doctor", "--url", "http://127.0.0.1:1")
	require.Equal(t, 1, code)
	require.Equal(t, "unreachable: cannot reach http://127.0.0.1:1 (connect: connection refused)\n", stdout)
	doc = cliJSON(t, map[string]string{"HOGSEND_DEV_DIR": noDev}, "doctor", "--url", base)
	require.Equal(t, "ok", doc["verdict"], "health answers its verdict without a key")

	// Keys: no key configured, then HTTP errors, are one line on stderr and exit 1.
	code, _, stderr := cliRun(t, map[string]string{"HOGSEND_API_URL": base, "HOGSEND_DEV_DIR": noDev}, "stats")
	require.Equal(t, []any{1, "no admin key configured — pass --admin-key, or set HOGSEND_ADMIN_KEY / ADMIN_API_KEY\n"}, []any{code, stderr})
	code, _, stderr = cliRun(t, env, "webhooks", "get", uuid.NewString())
	require.Equal(t, 1, code)
	require.Regexp(t, `^404: .+\n$`, stderr)
	code, _, stderr = cliRun(t, env, "stats", "--admin-key", "hsk_nope")
	require.Equal(t, []any{1, "401: Unauthorized\n"}, []any{code, stderr}, "the flag wins over the environment")

	// A read key made by the CLI reads but cannot write.
	made := cliJSON(t, env, "keys", "create", "reader", "--scopes", "read")
	require.True(t, strings.HasPrefix(made["key"].(string), "hsk_"))
	reader := map[string]string{"HOGSEND_API_URL": base, "HOGSEND_ADMIN_KEY": made["key"].(string), "HOGSEND_DEV_DIR": noDev}
	code, stdout, _ = cliRun(t, reader, "keys", "list")
	require.Zero(t, code)
	require.Regexp(t, `(?m)^id +name +keyPrefix +scopes +lastUsedAt +revokedAt +expiresAt\n`, stdout)
	require.Contains(t, stdout, "reader")
	code, _, stderr = cliRun(t, reader, "alerts", "rules", "create", "--name", "x", "--type", "delivery_issue", "--threshold", "0.9",
		"--channel", "slack", "--config", `{"webhookUrl":"https://hooks.slack.com/x"}`)
	require.Equal(t, []any{1, "403: Forbidden: insufficient scope\n"}, []any{code, stderr})

	// Contacts and events over the data plane (the admin key implies ingest).
	code, stdout, stderr = cliRun(t, env, "contacts", "upsert", "--user-id", "cli-1", "--email", "cli-1@example.com",
		"--prop", "plan=pro", "--prop", "seats=3", "--prop", `tags=["a"]`)
	require.Zero(t, code, stderr)
	require.Regexp(t, `^id:      [0-9a-f-]{36}\ncreated: true\nlinked:  false\n$`, stdout)
	got := cliJSON(t, env, "contacts", "get", "cli-1")["contact"].(map[string]any)
	require.Equal(t, map[string]any{"plan": "pro", "seats": float64(3), "tags": []any{"a"}}, got["properties"])
	require.Equal(t, true, cliJSON(t, env, "events", "send", "cli.signup", "--user-id", "cli-1", "--prop", "source=cli")["stored"])
	events := cliJSON(t, env, "events", "cli-1", "--event", "cli.signup")["events"].([]any)
	require.Len(t, events, 1)
	code, stdout, _ = cliRun(t, env, "events", "send", "x")
	require.Equal(t, 1, code)

	// Import with the job's progress, export to a file.
	dir := t.TempDir()
	file := filepath.Join(dir, "people.csv")
	require.NoError(t, os.WriteFile(file, []byte("email,userId,plan\nimp-1@example.com,imp-1,free\nimp-2@example.com,imp-2,pro\n"), 0o600))
	code, stdout, stderr = cliRun(t, env, "contacts", "import", file)
	require.Zero(t, code, stderr)
	require.Regexp(t, `(?m)^status: +completed\ntotalRows: +2\nprocessedRows: +2\nfailedRows: +0\n`, stdout)
	out := filepath.Join(dir, "out.csv")
	code, _, stderr = cliRun(t, env, "contacts", "export", "--search", "imp-", "-o", out)
	require.Zero(t, code, stderr)
	exported, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Contains(t, string(exported), "imp-1@example.com")
	require.Contains(t, string(exported), "imp-2@example.com")

	// Alerts, webhooks, the audit of it all, the DLQ.
	rule := cliJSON(t, env, "alerts", "rules", "create", "--name", "Bounces", "--type", "bounce_rate_exceeded", "--threshold", "0.05",
		"--channel", "webhook", "--config", `{"url":"https://hooks.example.com/a"}`)["rule"].(map[string]any)
	require.Equal(t, map[string]any{"rate": 0.05}, rule["threshold"])
	code, stdout, _ = cliRun(t, env, "alerts", "rules", "update", rule["id"].(string), "--enabled=false")
	require.Zero(t, code)
	require.Regexp(t, `(?m)^enabled: +false$`, stdout)
	endpoint := cliJSON(t, env, "webhooks", "create", "--url", "https://hooks.example.com/w", "--events", "contact.created,email.sent")
	require.Regexp(t, `^whsec_`, endpoint["secret"])
	code, stdout, _ = cliRun(t, env, "webhooks", "list")
	require.Zero(t, code)
	require.Contains(t, stdout, `["contact.created","email.sent"]`)
	audit := cliJSON(t, env, "audit", "--resource", "alerts")["logs"].([]any)
	require.Len(t, audit, 2)
	require.Equal(t, "alerts.patch", audit[0].(map[string]any)["action"])
	code, stdout, _ = cliRun(t, env, "dlq", "list")
	require.Equal(t, []any{0, "(none)\n0 of 0\n"}, []any{code, stdout})
	code, stdout, _ = cliRun(t, env, "stats")
	require.Zero(t, code)
	require.NotEmpty(t, stdout)

	// Usage errors exit 1 too.
	code, _, stderr = cliRun(t, env, "journeys", "frobnicate", "x")
	require.Equal(t, 1, code, stderr)
	code, _, _ = cliRun(t, env, "campaigns", "send", "--list", "a", "--bucket", "b", "--template", "t")
	require.Equal(t, 1, code)
	require.Equal(t, http.StatusOK, func() int { c, _ := getJSON(t, base+"/v1/health", ""); return c }())
}
