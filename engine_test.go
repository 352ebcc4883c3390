package hogsend

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/hogsend/hogsend/api"
	"github.com/hogsend/hogsend/internal/pglocal"
	"github.com/hogsend/hogsend/schema/schematest"
	"github.com/hogsend/hogsend/worker/workertest"
	"github.com/hogsend/hogsend/workflows"
)

func TestMain(m *testing.M) { schematest.Main(m) }

const testAdminKey = "test-admin-api-key"

// testEnv is a complete environment for an engine on dsn: with temporal, the shared in-process
// Temporal server and a task queue of its own; without, an address where nothing listens.
func testEnv(t *testing.T, dsn string, temporal bool) map[string]string {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":       dsn,
		"BETTER_AUTH_SECRET": strings.Repeat("x", 40),
		"RESEND_API_KEY":     "re_test",
		"ADMIN_API_KEY":      testAdminKey,
		"NODE_ENV":           "test",
		"LOG_LEVEL":          "warn",
		"PORT":               "0",
	}
	if temporal {
		srv := workertest.Server(t)
		env["TEMPORAL_ADDRESS"] = srv.GetFrontendHostPort()
		env["TEMPORAL_NAMESPACE"] = srv.GetDefaultNamespace()
		env["TEMPORAL_TASK_QUEUE"] = workertest.TaskQueue(t)
	} else {
		port, err := pglocal.FreePort() // nothing listens there: Temporal is "down"
		require.NoError(t, err)
		env["TEMPORAL_ADDRESS"] = fmt.Sprintf("127.0.0.1:%d", port)
	}
	return env
}

// testEngine builds an engine from env, logging into a buffer.
func testEngine(t *testing.T, env map[string]string) (*Engine, *bytes.Buffer) {
	t.Helper()
	return testEngineWith(t, env, &Options{})
}

// testEngineWith builds an engine with the application's options.
func testEngineWith(t *testing.T, env map[string]string, opts *Options) (*Engine, *bytes.Buffer) {
	t.Helper()
	cfg, _, err := LoadConfig(envOf(env), nil, RoleAPI)
	require.NoError(t, err)
	if opts.LookupEnv == nil { // as in production: the engine reads the environment its config came from
		opts.LookupEnv = envOf(env)
	}
	logs := &syncBuffer{}
	e, err := New(context.Background(), cfg, opts, slog.New(slog.NewJSONHandler(logs, nil)))
	require.NoError(t, err)
	e.Stdout = io.Discard
	t.Cleanup(e.Close)
	return e, &logs.Buffer
}

type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

// serve runs the engine's API on 127.0.0.1:0 until the test ends and returns its base URL.
func serve(t *testing.T, e *Engine) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return "http://" + ln.Addr().String()
}

// runWorker runs the engine's worker until the returned stop is called (or the test ends).
func runWorker(t *testing.T, e *Engine) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.RunWorker(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return stop
}

func getJSON(t *testing.T, url, key string) (int, map[string]any) {
	t.Helper()
	return requestJSON(t, http.MethodGet, url, key, nil)
}

// requestJSON sends body (nil = none) as JSON with key as the bearer ("" = none) and decodes
// the JSON answer.
func requestJSON(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var out map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	return res.StatusCode, out
}

func component(body map[string]any, name string) string {
	return body["components"].(map[string]any)[name].(map[string]any)["status"].(string)
}

// waitUntil polls cond every 50 ms for up to 20 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEngineEndToEnd(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	e, _ := testEngine(t, testEnv(t, dsn, true))
	base := serve(t, e)
	stopWorker := runWorker(t, e)

	waitUntil(t, "worker up in health", func() bool {
		_, body := getJSON(t, base+"/v1/health", testAdminKey)
		return component(body, "worker") == "up"
	})
	code, body := getJSON(t, base+"/v1/health", testAdminKey)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "healthy", body["status"])
	require.Equal(t, "up", component(body, "database"))
	require.Equal(t, "up", component(body, "temporal"))

	// The worker polls its task queue and its activities reach Postgres.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := e.Temporal().ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: e.Config().Temporal.TaskQueue}, workflows.PingName)
	require.NoError(t, err)
	var res workflows.PingResult
	require.NoError(t, run.Get(ctx, &res))
	require.True(t, res.Database)
	require.NotEmpty(t, res.Worker)

	// A gracefully stopped worker is down at once (its heartbeat row goes first).
	stopWorker()
	_, body = getJSON(t, base+"/v1/health", testAdminKey)
	require.Equal(t, "down", component(body, "worker"))
	require.Equal(t, "healthy", body["status"], "a missing worker never changes the overall status")
}

func TestAPIServesWhileTemporalIsDown(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	e, _ := testEngine(t, testEnv(t, dsn, false))
	base := serve(t, e)

	code, body := getJSON(t, base+"/v1/health", testAdminKey)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "degraded", body["status"])
	require.Equal(t, "down", component(body, "temporal"))
	require.Equal(t, "down", component(body, "redis"))
	require.Equal(t, "up", component(body, "database"))
	code, _ = getJSON(t, base+"/v1/health/ready", "")
	require.Equal(t, http.StatusOK, code)
	code, body = getJSON(t, base+"/v1/admin/api-keys", testAdminKey)
	require.Equal(t, http.StatusOK, code, "routes that need no Temporal keep working")
	require.EqualValues(t, 1, body["total"], "the first-boot key")
}

func TestServeRefusesABehindSchema(t *testing.T) {
	t.Parallel()
	dsn := schematest.EmptyDB(t) // nothing applied at all
	env := testEnv(t, dsn, false)
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), []string{"hogsend", "serve"}, &stdout, &stderr, &Options{LookupEnv: envOf(env)})
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "Refusing to start")
	require.Contains(t, stderr.String(), "applied (empty)")
	require.Contains(t, stderr.String(), "SKIP_SCHEMA_CHECK")

	// One missing migration is enough.
	_, migrated := schematest.TestDB(t)
	conn, err := pgx.Connect(context.Background(), migrated)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	_, err = conn.Exec(context.Background(), `DELETE FROM schema_migrations WHERE track = 'engine'
		AND version = (SELECT max(version) FROM schema_migrations WHERE track = 'engine')`)
	require.NoError(t, err)
	e, _ := testEngine(t, testEnv(t, migrated, false))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	require.ErrorIs(t, e.Serve(context.Background(), ln), ErrSchemaBehind)

	// SKIP_SCHEMA_CHECK boots anyway and health tells the truth.
	env = testEnv(t, migrated, false)
	env["SKIP_SCHEMA_CHECK"] = "true"
	e, _ = testEngine(t, env)
	base := serve(t, e)
	_, body := getJSON(t, base+"/v1/health", testAdminKey)
	require.Equal(t, "migration_pending", body["status"])
}

func TestFirstBootMintsOneKeyOnce(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	env := testEnv(t, dsn, false)
	env["ADMIN_API_KEY"] = ""

	boot := func() string {
		e, _ := testEngine(t, env)
		var out bytes.Buffer
		e.Stdout = &out
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Serve(ctx, ln) }()
		waitUntil(t, "API up", func() bool {
			res, err := http.Get("http://" + ln.Addr().String() + "/v1/health/live")
			if err == nil {
				res.Body.Close()
			}
			return err == nil
		})
		cancel()
		require.NoError(t, <-done)
		return out.String()
	}
	first := boot()
	require.Contains(t, first, "shown only this once")
	token := strings.TrimSpace(strings.Split(first, "once:")[1])
	require.True(t, strings.HasPrefix(token, "hsk_"))
	require.NotContains(t, boot(), "hsk_", "the second boot mints nothing")

	e, _ := testEngine(t, env)
	base := serve(t, e)
	code, body := getJSON(t, base+"/v1/admin/api-keys", token)
	require.Equal(t, http.StatusOK, code)
	key := body["keys"].([]any)[0].(map[string]any)
	require.Equal(t, BootstrapKeyName, key["name"])
	require.Equal(t, []any{"full-admin", "ingest"}, key["scopes"])
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	dsn := schematest.EmptyDB(t)
	opts := &Options{LookupEnv: envOf(map[string]string{"DATABASE_URL": dsn, "NODE_ENV": "test"})}
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"hogsend"}, args...), &stdout, &stderr, opts)
		return code, stdout.String(), stderr.String()
	}
	code, out, _ := run("migrate", "status")
	require.Equal(t, 0, code)
	require.Contains(t, out, "engine: PENDING")

	code, _, logs := run("migrate", "up")
	require.Equal(t, 0, code, logs)
	require.Contains(t, logs, "[engine] Applying")
	require.Contains(t, logs, "[client] No client migrations configured")

	code, _, logs = run("migrate")
	require.Equal(t, 0, code)
	require.Contains(t, logs, "already up to date")

	code, out, _ = run("migrate", "status", "--json")
	require.Equal(t, 0, code)
	var st map[string]map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, true, st["engine"]["inSync"])
	require.Equal(t, true, st["client"]["inSync"])
	require.Nil(t, st["client"]["required"])

	code, _, errOut := run("migrate", "sideways")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `unknown migrate command "sideways"`)
}

func TestKeysMintCommand(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	envFile := t.TempDir() + "/.env"
	opts := &Options{LookupEnv: envOf(map[string]string{"DATABASE_URL": dsn, "NODE_ENV": "test"})}
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"hogsend", "keys", "mint"}, args...), &stdout, &stderr, opts)
		return code, stdout.String(), stderr.String()
	}
	code, out, errOut := run("--name", "local-bootstrap", "--scopes", "ingest", "--json", "--env-file", envFile)
	require.Equal(t, 0, code, errOut)
	var minted map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &minted))
	token := minted["key"].(string)
	require.Equal(t, []any{"ingest"}, minted["scopes"])
	require.Equal(t, "HOGSEND_API_KEY="+token, strings.TrimSpace(readFile(t, envFile)))

	e, _ := testEngine(t, testEnv(t, dsn, false))
	id, err := e.Keys().Authenticate(context.Background(), token)
	require.NoError(t, err)
	require.Equal(t, "local-bootstrap", id.Name)

	// With the env file already holding a key, minting is skipped.
	code, out, _ = run("--name", "again", "--env-file", envFile)
	require.Equal(t, 0, code)
	require.Contains(t, out, "no key minted")

	code, _, errOut = run("--scopes", "root,read", "--expires", "soon")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "--name is required")
	require.Contains(t, errOut, `unknown scope "root"`)
	require.Contains(t, errOut, "--expires must be RFC 3339")
}

func TestBadConfigExitsWithEveryProblem(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	env := map[string]string{"PORT": "-1", "LOG_LEVEL": "loud"}
	code := Run(context.Background(), []string{"hogsend", "serve"}, &stdout, &stderr, &Options{LookupEnv: envOf(env)})
	require.Equal(t, 1, code)
	for _, want := range []string{"PORT", "LOG_LEVEL", "DATABASE_URL: required", "BETTER_AUTH_SECRET: required", "RESEND_API_KEY: required"} {
		require.Contains(t, stderr.String(), want)
	}
	code = Run(context.Background(), []string{"hogsend", "frobnicate"}, &stdout, &stderr, &Options{})
	require.Equal(t, 2, code)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestEngineStatementsAreBounded(t *testing.T) {
	t.Parallel()
	_, dsn := schematest.TestDB(t)
	for want, url := range map[string]string{"1min": dsn, "10min": dsn + sep(dsn) + "statement_timeout=10min"} {
		e, _ := testEngine(t, testEnv(t, url, false))
		var got string
		require.NoError(t, e.pool.QueryRow(context.Background(), `SHOW statement_timeout`).Scan(&got))
		require.Equal(t, want, got, url)
	}
}

// sep is the separator that adds a query parameter to a DSN URL.
func sep(dsn string) string {
	if strings.Contains(dsn, "?") {
		return "&"
	}
	return "?"
}

func TestTheHTTPServerBoundsEveryPhase(t *testing.T) {
	t.Parallel()
	srv := newHTTPServer(http.NotFoundHandler(), slog.Default())
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout} {
		require.Positive(t, d, name)
	}
	// WriteTimeout runs from the end of the header: it must cover the body, the handler and the answer.
	require.Greater(t, srv.WriteTimeout, srv.ReadTimeout+api.RequestTimeout-time.Second)
}
