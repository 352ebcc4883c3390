package hogsend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/email/smtptest"
	"github.com/hogsend/hogsend/internal/pglocal"
	"github.com/hogsend/hogsend/schema/schematest"
	"github.com/hogsend/hogsend/worker/workertest"
)

// TestDevCommand runs `dev` on services the environment provides (so no tools are built):
// it migrates a fresh database, mints and keeps the admin key, serves, round-trips the ping
// workflow, and a second run on the same state directory shows the same key.
func TestDevCommand(t *testing.T) {
	t.Parallel()
	smtp, err := smtptest.Start(true)
	require.NoError(t, err)
	t.Cleanup(smtp.Close)
	port, err := pglocal.FreePort()
	require.NoError(t, err)
	srv := workertest.Server(t)
	dir := t.TempDir()
	env := map[string]string{
		"DATABASE_URL":        schematest.EmptyDB(t),
		"TEMPORAL_ADDRESS":    srv.GetFrontendHostPort(),
		"TEMPORAL_NAMESPACE":  srv.GetDefaultNamespace(),
		"TEMPORAL_TASK_QUEUE": workertest.TaskQueue(t),
		"SMTP_URL":            smtp.URL(),
		"PORT":                fmt.Sprint(port),
		"HOGSEND_DEV_DIR":     dir,
	}

	out := runDevUntilReady(t, env)
	require.Contains(t, out, "settings: temporal-dev.yml")
	require.Contains(t, out, "tools: none needed … skipped")
	require.Contains(t, out, "postgres: using DATABASE_URL")
	require.Contains(t, out, "mail: using SMTP_URL")
	require.Contains(t, out, "[7/7] round trip: hogsend-ping workflow through the worker … ok")
	require.NotContains(t, out, "Mailpit API")
	key := strings.TrimSpace(readFile(t, filepath.Join(dir, "admin-key")))
	require.Contains(t, out, "Admin key      "+key)
	require.NotEmpty(t, readFile(t, filepath.Join(dir, "secret")))

	again := runDevUntilReady(t, env)
	require.Contains(t, again, "migrations … in sync")
	require.Contains(t, again, "Admin key      "+key, "the second run shows the key the first one minted")
}

// runDevUntilReady runs `dev` with env until its banner is up, checks that the API answers with
// the admin key, then stops it with Ctrl-C (a cancelled context) and returns what it printed.
func runDevUntilReady(t *testing.T, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	exit := make(chan int, 1)
	go func() { exit <- Run(ctx, []string{"hogsend", "dev"}, stdout, stderr, &Options{LookupEnv: envOf(env)}) }()

	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(bufString(stdout), "Ctrl-C stops everything") {
		select {
		case code := <-exit:
			t.Fatalf("dev exited with %d before it was ready:\n%s\n%s", code, bufString(stdout), bufString(stderr))
		case <-time.After(50 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "dev not ready within 60 s:\n%s", bufString(stdout))
	}
	key := strings.TrimSpace(readFile(t, filepath.Join(env["HOGSEND_DEV_DIR"], "admin-key")))
	code, body := getJSON(t, "http://localhost:"+env["PORT"]+"/v1/admin/api-keys", key)
	require.Equal(t, http.StatusOK, code, body)

	cancel()
	select {
	case code := <-exit:
		require.Equal(t, 0, code, bufString(stderr))
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not stop within 30 s of Ctrl-C")
	}
	out := bufString(stdout)
	require.True(t, strings.HasSuffix(out, "stopping…\nstopped.\n"), out)
	return out
}

func bufString(b *syncBuffer) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.String()
}

// TestDevInParts runs `dev infra`, then `dev worker` and `dev api` on it as commands of their
// own: they find the services, secret and port in the stack's env file, the API answers with
// the key infra minted, the worker's heartbeat reaches health, and the file is gone once infra
// stops.
func TestDevInParts(t *testing.T) {
	t.Parallel()
	smtp, err := smtptest.Start(true)
	require.NoError(t, err)
	t.Cleanup(smtp.Close)
	port, err := pglocal.FreePort()
	require.NoError(t, err)
	srv := workertest.Server(t)
	dir := t.TempDir()
	queue := workertest.TaskQueue(t)
	env := map[string]string{
		"DATABASE_URL":        schematest.EmptyDB(t),
		"TEMPORAL_ADDRESS":    srv.GetFrontendHostPort(),
		"TEMPORAL_NAMESPACE":  srv.GetDefaultNamespace(),
		"TEMPORAL_TASK_QUEUE": queue,
		"SMTP_URL":            smtp.URL(),
		"PORT":                fmt.Sprint(port),
		"HOGSEND_DEV_DIR":     dir,
	}
	// What the API's and the worker's shells have: no service addresses.
	partEnv := map[string]string{"HOGSEND_DEV_DIR": dir, "TEMPORAL_NAMESPACE": srv.GetDefaultNamespace(), "TEMPORAL_TASK_QUEUE": queue}

	var out, errs syncBuffer
	require.Equal(t, 1, Run(context.Background(), []string{"hogsend", "dev", "api"}, &out, &errs, &Options{LookupEnv: envOf(partEnv)}))
	require.Contains(t, bufString(&errs), "no dev stack is running in "+dir+"/: start one with `task dev:infra`")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type part struct {
		name           string
		stdout, stderr *syncBuffer
		exit           chan int
	}
	start := func(name string, env map[string]string) part {
		p := part{name: name, stdout: &syncBuffer{}, stderr: &syncBuffer{}, exit: make(chan int, 1)}
		go func() {
			p.exit <- Run(ctx, []string{"hogsend", "dev", name}, p.stdout, p.stderr, &Options{LookupEnv: envOf(env)})
		}()
		return p
	}
	infra := start("infra", env)
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(bufString(infra.stdout), "Ctrl-C stops the services") {
		require.True(t, time.Now().Before(deadline), "infra not ready within 60 s:\n%s\n%s", bufString(infra.stdout), bufString(infra.stderr))
		time.Sleep(50 * time.Millisecond)
	}
	require.Contains(t, bufString(infra.stdout), "[5/5] migrations … ")
	require.NotContains(t, bufString(infra.stdout), "round trip")
	require.Contains(t, readFile(t, filepath.Join(dir, "dev.env")), "PORT="+fmt.Sprint(port)+"\n")
	key := strings.TrimSpace(readFile(t, filepath.Join(dir, "admin-key")))
	require.Contains(t, bufString(infra.stdout), "Admin key      "+key)

	parts := []part{start("worker", partEnv), start("api", partEnv)}
	url := "http://localhost:" + fmt.Sprint(port) + "/v1/health"
	for worker := ""; worker != "up"; {
		require.True(t, time.Now().Before(deadline.Add(30*time.Second)), "worker not up:\n%s\n%s", bufString(parts[0].stderr), bufString(parts[1].stderr))
		time.Sleep(100 * time.Millisecond)
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // the API is not listening yet
		}
		var body map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		res.Body.Close()
		worker = component(body, "worker")
	}

	cancel()
	for _, p := range append(parts, infra) {
		select {
		case code := <-p.exit:
			require.Equal(t, 0, code, "%s: %s", p.name, bufString(p.stderr))
		case <-time.After(30 * time.Second):
			t.Fatalf("dev %s did not stop within 30 s", p.name)
		}
	}
	require.NoFileExists(t, filepath.Join(dir, "dev.env"))
}
