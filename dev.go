package hogsend

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/goccy/go-yaml"
	"go.temporal.io/sdk/client"

	"github.com/hogsend/hogsend/internal/pglocal"
	"github.com/hogsend/hogsend/workflows"
)

//go:embed temporal-dev.yml
var defaultDevSettings []byte

// devSettings is temporal-dev.yml.
type devSettings struct {
	Temporal struct {
		Namespace        string            `yaml:"namespace"`
		IP               string            `yaml:"ip"`
		Port             int               `yaml:"port"`
		UIPort           int               `yaml:"uiPort"`
		DBFile           string            `yaml:"dbFile"`
		LogLevel         string            `yaml:"logLevel"`
		SearchAttributes map[string]string `yaml:"searchAttributes"`
		DynamicConfig    map[string]any    `yaml:"dynamicConfig"`
	} `yaml:"temporal"`
	Postgres struct {
		Port     int    `yaml:"port"`
		Database string `yaml:"database"`
	} `yaml:"postgres"`
	Mailpit struct {
		SMTPPort int    `yaml:"smtpPort"`
		HTTPPort int    `yaml:"httpPort"`
		DBFile   string `yaml:"dbFile"`
	} `yaml:"mailpit"`
	API struct {
		Port int `yaml:"port"`
	} `yaml:"api"`
}

// loadDevSettings reads ./temporal-dev.yml, else the copy built into the binary.
func loadDevSettings() (*devSettings, string, error) {
	body, source := defaultDevSettings, "built-in temporal-dev.yml"
	if b, err := os.ReadFile("temporal-dev.yml"); err == nil {
		body, source = b, "temporal-dev.yml"
	}
	var s devSettings
	if err := yaml.UnmarshalWithOptions(body, &s, yaml.Strict()); err != nil {
		return nil, source, fmt.Errorf("%s: %w", source, err)
	}
	return &s, source, nil
}

// Temporal CLI version built by dev (pinned in tools/go.mod).
const temporalCLIVersion = "v1.5.1"

// devStack is what `dev` started, stopped in reverse order.
type devStack struct {
	dir      string
	out      io.Writer
	stops    []func()
	stepNo   int
	stepsAll int
}

func (d *devStack) step(format string, args ...any) func(result string) {
	d.stepNo++
	start := time.Now()
	fmt.Fprintf(d.out, "[%d/%d] %s … ", d.stepNo, d.stepsAll, fmt.Sprintf(format, args...))
	return func(result string) {
		fmt.Fprintf(d.out, "%s (%s)\n", result, time.Since(start).Round(100*time.Millisecond))
	}
}

func (d *devStack) stopAll() {
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i]()
	}
}

// dev runs the whole engine on this machine. Ctrl-C stops everything it started.
func (r *runner) dev(ctx context.Context, _ []string) error {
	// Validate the environment first: a bad variable should not cost a tools build.
	if _, _, err := LoadConfig(r.opts.lookupEnv(), r.opts.environ(), RoleDev); err != nil {
		return err
	}
	settings, source, err := loadDevSettings()
	if err != nil {
		return err
	}
	dir := ".hogsend"
	if v, ok := r.opts.lookupEnv()("HOGSEND_DEV_DIR"); ok && v != "" {
		dir = v
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return err
	}
	d := &devStack{dir: dir, out: r.stdout, stepsAll: 7}
	defer func() {
		fmt.Fprintln(r.stdout, "stopping…")
		d.stopAll()
		fmt.Fprintln(r.stdout, "stopped.")
	}()
	fmt.Fprintf(r.stdout, "hogsend dev — local stack in %s/ (settings: %s)\n", dir, source)
	env := r.opts.lookupEnv()
	overlay := map[string]string{}

	done := d.step("tools: Temporal CLI %s and Mailpit", temporalCLIVersion)
	bins, note, err := buildDevTools(ctx, dir, r.stdout)
	if err != nil {
		done("failed")
		return err
	}
	done(note)

	if dsn, ok := env("DATABASE_URL"); ok && dsn != "" {
		d.step("postgres: using DATABASE_URL")("ok")
	} else {
		done := d.step("postgres: private cluster %s/pg on 127.0.0.1:%d", dir, settings.Postgres.Port)
		dsn, err := startDevPostgres(ctx, d, settings)
		if err != nil {
			done("failed")
			return err
		}
		overlay["DATABASE_URL"] = dsn
		done("up")
	}

	temporalAddr := ""
	if addr, ok := env("TEMPORAL_ADDRESS"); ok && addr != "" {
		d.step("temporal: using TEMPORAL_ADDRESS %s", addr)("ok")
	} else {
		t := settings.Temporal
		done := d.step("temporal: dev server on %s:%d, Web UI on :%d", t.IP, t.Port, t.UIPort)
		if err := startDevTemporal(ctx, d, bins["temporal"], settings); err != nil {
			done("failed")
			return err
		}
		temporalAddr = net.JoinHostPort(t.IP, strconv.Itoa(t.Port))
		overlay["TEMPORAL_ADDRESS"] = temporalAddr
		overlay["TEMPORAL_NAMESPACE"] = t.Namespace
		done("up")
	}

	m := settings.Mailpit
	done = d.step("mailpit: SMTP 127.0.0.1:%d, API http://127.0.0.1:%d", m.SMTPPort, m.HTTPPort)
	if err := startDevMailpit(ctx, d, bins["mailpit"], settings); err != nil {
		done("failed")
		return err
	}
	overlay["EMAIL_PROVIDER"] = "smtp"
	overlay["SMTP_URL"] = fmt.Sprintf("smtp://127.0.0.1:%d", m.SMTPPort)
	done("up")

	secret, err := devSecret(dir)
	if err != nil {
		return err
	}
	overlay["BETTER_AUTH_SECRET"] = secret
	port := settings.API.Port
	if v, ok := env("PORT"); ok && v != "" {
		port, _ = strconv.Atoi(v)
	}
	overlay["PORT"] = strconv.Itoa(port)
	overlay["API_PUBLIC_URL"] = fmt.Sprintf("http://localhost:%d", port)
	overlay["LOG_LEVEL"] = "warn" // keep the progress lines readable; LOG_LEVEL=http shows requests

	// The environment wins over dev's choices.
	lookup := func(k string) (string, bool) {
		if v, ok := env(k); ok && strings.TrimSpace(v) != "" {
			return v, true
		}
		v, ok := overlay[k]
		return v, ok
	}
	cfg, warnings, err := LoadConfig(lookup, r.opts.environ(), RoleDev)
	if err != nil {
		return err
	}
	log := newLogger(cfg, r.stderr)
	for _, w := range warnings {
		log.Warn(w)
	}

	done = d.step("migrations")
	e, err := New(ctx, cfg, r.opts, log)
	if err != nil {
		done("failed")
		return err
	}
	e.Stdout = r.stdout
	d.stops = append(d.stops, e.Close)
	if err := e.Migrate(ctx); err != nil {
		done("failed")
		return err
	}
	done("in sync")

	done = d.step("api on :%d and worker", port)
	key, err := devAdminKey(ctx, e, dir)
	if err != nil {
		done("failed")
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		done("failed")
		return fmt.Errorf("port %d is taken (set PORT to use another): %w", port, err)
	}
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Go(func() { errc <- e.Serve(runCtx, ln) })
	wg.Go(func() { errc <- e.RunWorker(runCtx) })
	d.stops = append(d.stops, func() { stopRun(); wg.Wait() })
	done("started")

	done = d.step("round trip: %s workflow through the worker", workflows.PingName)
	if err := devPing(ctx, e); err != nil {
		done("failed")
		return err
	}
	done("ok")

	printBanner(r.stdout, cfg, settings, temporalAddr != "", key)
	select {
	case <-ctx.Done():
		logShutdown(ctx, log)
		return nil
	case err := <-errc:
		return fmt.Errorf("engine stopped: %w", err)
	}
}

// devTools are built from their own modules under tools/ (one module each, so their
// dependency graphs never meet ours or each other's).
var devTools = []struct{ name, pkg string }{
	{"temporal", "github.com/temporalio/cli/cmd/temporal"},
	{"mailpit", "github.com/axllent/mailpit"},
}

// buildDevTools builds the Temporal CLI and Mailpit into dir/bin once; later runs reuse the
// binaries. Without the tools/ modules (dev run outside this repository), binaries on PATH are
// used.
func buildDevTools(ctx context.Context, dir string, out io.Writer) (map[string]string, string, error) {
	binDir, err := filepath.Abs(filepath.Join(dir, "bin"))
	if err != nil {
		return nil, "", err
	}
	bins := map[string]string{}
	var missing []int
	for i, t := range devTools {
		bins[t.name] = filepath.Join(binDir, t.name)
		if _, err := os.Stat(bins[t.name]); err != nil {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return bins, "cached", nil
	}
	if _, err := os.Stat(filepath.Join("tools", "temporal", "go.mod")); err != nil {
		for _, t := range devTools {
			p, err := exec.LookPath(t.name)
			if err != nil {
				return nil, "", errors.New("the Temporal CLI and Mailpit are not built: run `dev` from the Hogsend repository " +
					"(it builds them from tools/*/go.mod) or put `temporal` and `mailpit` on PATH")
			}
			bins[t.name] = p
		}
		return bins, "found on PATH", nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, "", errors.New("building the dev tools needs the Go toolchain on PATH")
	}
	fmt.Fprintf(out, "\n      first run: compiling from the module proxy (about 5–10 minutes on 2 cores)\n")
	for _, i := range missing {
		t := devTools[i]
		fmt.Fprintf(out, "      %s (%s)… ", t.name, t.pkg)
		start := time.Now()
		cmd := exec.CommandContext(ctx, goBin, "build", "-o", bins[t.name], t.pkg)
		cmd.Dir = filepath.Join("tools", t.name)
		var output strings.Builder
		cmd.Stdout, cmd.Stderr = &output, &output
		if err := runWithTicker(cmd, out, start); err != nil {
			return nil, "", fmt.Errorf("build %s: %w\n%s", t.name, err, output.String())
		}
		fmt.Fprintf(out, "built in %s\n", time.Since(start).Round(time.Second))
	}
	fmt.Fprint(out, "      ")
	return bins, "built", nil
}

// runWithTicker runs cmd, printing the elapsed time every 30 s so a long build shows progress.
func runWithTicker(cmd *exec.Cmd, out io.Writer, start time.Time) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	finished := make(chan error, 1)
	go func() { finished <- cmd.Wait() }()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-finished:
			return err
		case <-tick.C:
			fmt.Fprintf(out, "%s… ", time.Since(start).Round(time.Second))
		}
	}
}

// startChild runs a dev service in its own process group (so Ctrl-C reaches dev first and dev
// stops services in order) with a parent-death signal (so a killed dev leaves nothing behind).
func startChild(d *devStack, name string, cmd *exec.Cmd) error {
	logPath := filepath.Join(d.dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	runtime.LockOSThread() // Pdeathsig follows the forking thread: keep it alive
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	d.stops = append(d.stops, func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	return nil
}

// waitFor polls ready until it succeeds or the timeout passes; the log tail explains a failure.
func waitFor(ctx context.Context, d *devStack, name string, timeout time.Duration, ready func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			logTail, _ := os.ReadFile(filepath.Join(d.dir, name+".log"))
			if len(logTail) > 1500 {
				logTail = logTail[len(logTail)-1500:]
			}
			return fmt.Errorf("%s did not become ready within %s: %v\n--- %s/%s.log ---\n%s", name, timeout, err, d.dir, name, logTail)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func portTaken(port int, what, setting string) error {
	if pglocal.PortFree(port) {
		return nil
	}
	return fmt.Errorf("port %d for %s is already in use: stop whatever holds it (another `dev`?) or change %s in temporal-dev.yml", port, what, setting)
}

func startDevPostgres(ctx context.Context, d *devStack, s *devSettings) (string, error) {
	if err := portTaken(s.Postgres.Port, "Postgres", "postgres.port"); err != nil {
		return "", err
	}
	logFile, err := os.OpenFile(filepath.Join(d.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	c := &pglocal.Cluster{Dir: filepath.Join(d.dir, "pg"), Port: s.Postgres.Port, Durable: true, Log: logFile}
	if err := c.Init(ctx); err != nil {
		logFile.Close()
		return "", err
	}
	if err := c.Start(ctx); err != nil {
		logFile.Close()
		return "", err
	}
	d.stops = append(d.stops, func() { _ = c.Stop(); logFile.Close() })
	if err := c.CreateDatabase(ctx, s.Postgres.Database); err != nil {
		return "", err
	}
	return c.URL(s.Postgres.Database), nil
}

func startDevTemporal(ctx context.Context, d *devStack, bin string, s *devSettings) error {
	t := s.Temporal
	if err := portTaken(t.Port, "Temporal", "temporal.port"); err != nil {
		return err
	}
	if err := portTaken(t.UIPort, "the Temporal Web UI", "temporal.uiPort"); err != nil {
		return err
	}
	args := []string{"server", "start-dev",
		"--ip", t.IP, "--port", strconv.Itoa(t.Port), "--ui-port", strconv.Itoa(t.UIPort),
		"--namespace", t.Namespace, "--db-filename", filepath.Join(d.dir, t.DBFile), "--log-level", t.LogLevel}
	for _, k := range sortedKeys(t.SearchAttributes) {
		args = append(args, "--search-attribute", k+"="+t.SearchAttributes[k])
	}
	for _, k := range sortedKeys(t.DynamicConfig) {
		v, err := yaml.MarshalWithOptions(t.DynamicConfig[k], yaml.JSON())
		if err != nil {
			return fmt.Errorf("dynamicConfig %s: %w", k, err)
		}
		args = append(args, "--dynamic-config-value", k+"="+strings.TrimSpace(string(v)))
	}
	if err := startChild(d, "temporal", exec.Command(bin, args...)); err != nil {
		return err
	}
	addr := net.JoinHostPort(t.IP, strconv.Itoa(t.Port))
	return waitFor(ctx, d, "temporal", 90*time.Second, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		c, err := client.DialContext(ctx, client.Options{HostPort: addr, Namespace: t.Namespace, Logger: quietTemporalLogger{}})
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			return err
		}
		return httpOK(ctx, fmt.Sprintf("http://%s:%d/", t.IP, t.UIPort))
	})
}

func startDevMailpit(ctx context.Context, d *devStack, bin string, s *devSettings) error {
	m := s.Mailpit
	if err := portTaken(m.SMTPPort, "Mailpit SMTP", "mailpit.smtpPort"); err != nil {
		return err
	}
	if err := portTaken(m.HTTPPort, "the Mailpit API", "mailpit.httpPort"); err != nil {
		return err
	}
	cmd := exec.Command(bin,
		"--smtp", fmt.Sprintf("127.0.0.1:%d", m.SMTPPort),
		"--listen", fmt.Sprintf("127.0.0.1:%d", m.HTTPPort),
		"--database", filepath.Join(d.dir, m.DBFile),
		"--smtp-auth-accept-any", "--smtp-auth-allow-insecure")
	if err := startChild(d, "mailpit", cmd); err != nil {
		return err
	}
	return waitFor(ctx, d, "mailpit", 30*time.Second, func(ctx context.Context) error {
		return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/api/v1/info", m.HTTPPort))
	})
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return nil
}

// devSecret is the token-signing secret of the local stack, generated once and kept in dir.
func devSecret(dir string) (string, error) {
	path := filepath.Join(dir, "secret")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	return s, os.WriteFile(path, []byte(s+"\n"), 0o600)
}

// devAdminKey mints the first key of a fresh database and keeps it in dir, so the banner can
// show it on every run of the same stack.
func devAdminKey(ctx context.Context, e *Engine, dir string) (string, error) {
	path := filepath.Join(dir, "admin-key")
	k, ok, err := e.MintFirstKey(ctx)
	if err != nil {
		return "", err
	}
	if ok {
		return k.Token, os.WriteFile(path, []byte(k.Token+"\n"), 0o600)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil
	}
	return strings.TrimSpace(string(b)), nil
}

// devPing runs the ping workflow, proving the worker polls and reaches Postgres.
func devPing(ctx context.Context, e *Engine) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	run, err := e.Temporal().ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        "hogsend-dev-ping",
		TaskQueue: e.cfg.Temporal.TaskQueue,
	}, workflows.PingName)
	if err != nil {
		return fmt.Errorf("start ping workflow: %w", err)
	}
	var res workflows.PingResult
	if err := run.Get(ctx, &res); err != nil {
		return fmt.Errorf("ping workflow: %w", err)
	}
	return nil
}

func printBanner(w io.Writer, cfg *Config, s *devSettings, ownTemporal bool, key string) {
	line := strings.Repeat("─", 66)
	version := ""
	if v := EngineVersion(); v != "unknown" {
		version = " " + v
	}
	fmt.Fprintf(w, "\n%s\n  Hogsend%s is ready\n%s\n", line, version, line)
	fmt.Fprintf(w, "  API            http://localhost:%d   (health: /v1/health)\n", cfg.Port)
	if ownTemporal {
		fmt.Fprintf(w, "  Temporal UI    http://localhost:%d   (namespace %s)\n", s.Temporal.UIPort, s.Temporal.Namespace)
	}
	fmt.Fprintf(w, "  Temporal       %s\n", cfg.Temporal.Address)
	fmt.Fprintf(w, "  Mailpit API    http://127.0.0.1:%d/api/v1/messages   (SMTP 127.0.0.1:%d)\n", s.Mailpit.HTTPPort, s.Mailpit.SMTPPort)
	fmt.Fprintf(w, "  Database       %s\n", redactDSN(cfg.DatabaseURL))
	if key != "" {
		fmt.Fprintf(w, "  Admin key      %s\n", key)
		fmt.Fprintf(w, "\n  curl -H 'Authorization: Bearer %s' http://localhost:%d/v1/admin/api-keys\n", key, cfg.Port)
	} else {
		fmt.Fprintf(w, "  Admin key      (this database already had keys; mint one with `hogsend keys mint`)\n")
	}
	fmt.Fprintf(w, "%s\n  Ctrl-C stops everything.\n\n", line)
}

func redactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.Index(dsn, "@"); at > i {
			if colon := strings.Index(dsn[i+3:at], ":"); colon >= 0 {
				return dsn[:i+3+colon] + ":…" + dsn[at:]
			}
		}
	}
	return dsn
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// quietTemporalLogger drops the SDK's logs while dev polls a server that is still starting.
type quietTemporalLogger struct{}

func (quietTemporalLogger) Debug(string, ...any) {}
func (quietTemporalLogger) Info(string, ...any)  {}
func (quietTemporalLogger) Warn(string, ...any)  {}
func (quietTemporalLogger) Error(string, ...any) {}
