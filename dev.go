package hogsend

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/hogsend/hogsend/internal/devstack"
	"github.com/hogsend/hogsend/workflows"
)

// builtinDevSettings is used when dev runs outside the repository.
//
//go:embed temporal-dev.yml
var builtinDevSettings []byte

// devEngineSteps is how many progress lines dev prints after the services' own (migrations,
// API and worker, round trip); dev infra prints only the first.
const devEngineSteps = 3

// devEnvFile, in the state directory, holds the environment of a running `dev infra` stack,
// which `dev api` and `dev worker` run on. The stack removes it when it stops.
const devEnvFile = "dev.env"

// dev runs the engine on this machine: everything in one process, or (part "infra") the
// services alone, with the API and the worker each run on them by `dev api` and `dev worker`,
// to restart one without the rest. Ctrl-C stops what the command started.
func (r *runner) dev(ctx context.Context, args []string) error {
	part := ""
	if len(args) > 0 {
		part = args[0]
	}
	switch part {
	case "":
		return r.devStack(ctx, true)
	case "infra":
		return r.devStack(ctx, false)
	case "api":
		return r.onDevStack(ctx, (*runner).serve)
	case "worker":
		return r.onDevStack(ctx, (*runner).worker)
	}
	return fmt.Errorf("unknown part %q: dev runs everything, or one of infra, api, worker", part)
}

// devStack brings up the services and migrates; with engine it also runs the API and the
// worker, else it leaves them to `dev api` and `dev worker`.
func (r *runner) devStack(ctx context.Context, engine bool) error {
	env := r.opts.lookupEnv()
	// Validate the environment first: a bad variable should not cost a tools build.
	if _, _, err := LoadConfig(env, r.opts.environ(), RoleDev); err != nil {
		return err
	}
	settings, source, err := devstack.LoadSettings(builtinDevSettings)
	if err != nil {
		return err
	}
	dir := r.devDir()
	steps := devstack.ServiceSteps + devEngineSteps
	if !engine {
		steps = devstack.ServiceSteps + 1
	}
	stack, err := devstack.Open(dir, r.stdout, steps)
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(r.stdout, "stopping…")
		stack.Close()
		fmt.Fprintln(r.stdout, "stopped.")
	}()
	fmt.Fprintf(r.stdout, "hogsend dev — local stack in %s/ (settings: %s)\n", dir, source)

	services, err := stack.Start(ctx, settings, devstack.Given{
		DatabaseURL:     setVar(env, "DATABASE_URL"),
		TemporalAddress: setVar(env, "TEMPORAL_ADDRESS"),
		SMTPURL:         setVar(env, "SMTP_URL"),
	})
	if err != nil {
		return err
	}
	overlay, err := r.devOverlay(stack, settings, services)
	if err != nil {
		return err
	}
	cfg, warnings, err := LoadConfig(overlay.lookup, r.opts.environ(), RoleDev)
	if err != nil {
		return err
	}
	log := newLogger(cfg, r.stderr)
	for _, w := range warnings {
		log.Warn(w)
	}
	e, err := r.devEngine(ctx, stack, cfg, log)
	if err != nil {
		return err
	}
	var key string
	var stopped <-chan error
	if engine {
		if key, stopped, err = devRun(ctx, stack, e, cfg.Port); err != nil {
			return err
		}
		done := stack.Step("round trip: %s workflow through the worker", workflows.PingName)
		if err := devPing(ctx, e); err != nil {
			done("failed")
			return err
		}
		done("ok")
	} else {
		if key, err = devAdminKey(ctx, e, stack.Dir); err != nil {
			return err
		}
		path := filepath.Join(stack.Dir, devEnvFile)
		if err := os.WriteFile(path, overlay.file(), 0o600); err != nil {
			return err
		}
		stack.OnClose(func() { _ = os.Remove(path) })
	}

	printBanner(r.stdout, cfg, settings, services, key, engine)
	select {
	case <-ctx.Done():
		logShutdown(ctx, log)
		return nil
	case err := <-stopped: // nil channel without the engine: only ctx ends it
		return fmt.Errorf("engine stopped: %w", err)
	}
}

// onDevStack runs serve or worker on the environment of the `dev infra` stack running here;
// the process environment wins over it.
func (r *runner) onDevStack(ctx context.Context, run func(*runner, context.Context, []string) error) error {
	raw, err := os.ReadFile(filepath.Join(r.devDir(), devEnvFile))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no dev stack is running in %s/: start one with `task dev:infra` (hogsend dev infra)", r.devDir())
	}
	if err != nil {
		return err
	}
	stack := map[string]string{}
	for line := range strings.Lines(string(raw)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			stack[k] = v
		}
	}
	opts := Options{}
	if r.opts != nil {
		opts = *r.opts
	}
	environ := r.opts.environ()
	opts.LookupEnv = devEnv{env: r.opts.lookupEnv(), overlay: stack}.lookup
	opts.Environ = func() []string { return environ }
	on := *r
	on.opts = &opts
	return run(&on, ctx, nil)
}

// setVar is the value of an environment variable that is set and not blank, else "".
func setVar(env func(string) (string, bool), name string) string {
	v, _ := env(name)
	return strings.TrimSpace(v)
}

// devEnv is the environment dev runs the engine with: the process's wins over dev's choices.
type devEnv struct {
	env     func(string) (string, bool)
	overlay map[string]string
}

func (d devEnv) lookup(k string) (string, bool) {
	if v := setVar(d.env, k); v != "" {
		return v, true
	}
	v, ok := d.overlay[k]
	return v, ok
}

// file is the overlay's variables with their effective values, as KEY=value lines.
func (d devEnv) file() []byte {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(d.overlay)) {
		v, _ := d.lookup(k)
		fmt.Fprintf(&b, "%s=%s\n", k, v)
	}
	return []byte(b.String())
}

// devOverlay is the engine's environment on the stack's services.
func (r *runner) devOverlay(stack *devstack.Stack, settings *devstack.Settings, s *devstack.Services) (devEnv, error) {
	env := r.opts.lookupEnv()
	secret, err := stack.Secret()
	if err != nil {
		return devEnv{}, err
	}
	port := settings.API.Port
	if v := setVar(env, "PORT"); v != "" {
		port, _ = strconv.Atoi(v)
	}
	overlay := map[string]string{
		"DATABASE_URL":       s.DatabaseURL,
		"TEMPORAL_ADDRESS":   s.TemporalAddress,
		"EMAIL_PROVIDER":     "smtp",
		"SMTP_URL":           s.SMTPURL,
		"BETTER_AUTH_SECRET": secret,
		"PORT":               strconv.Itoa(port),
		"API_PUBLIC_URL":     fmt.Sprintf("http://localhost:%d", port),
		"LOG_LEVEL":          "warn", // keep the progress lines readable; LOG_LEVEL=http shows requests
	}
	if s.TemporalNamespace != "" {
		overlay["TEMPORAL_NAMESPACE"] = s.TemporalNamespace
	}
	return devEnv{env: env, overlay: overlay}, nil
}

// devEngine builds the engine on cfg and brings its schema up to date.
func (r *runner) devEngine(ctx context.Context, stack *devstack.Stack, cfg *Config, log *slog.Logger) (*Engine, error) {
	done := stack.Step("migrations")
	e, err := New(ctx, cfg, r.opts, log)
	if err != nil {
		done("failed")
		return nil, err
	}
	e.Stdout = r.stdout
	stack.OnClose(e.Close)
	if err := e.Migrate(ctx); err != nil {
		done("failed")
		return nil, err
	}
	done("in sync")
	return e, nil
}

// devRun starts the API and the worker in this process; stopped reports the first of them to
// end on its own. key is the admin key to show ("" when the database already had keys).
func devRun(ctx context.Context, stack *devstack.Stack, e *Engine, port int) (key string, stopped <-chan error, err error) {
	done := stack.Step("api on :%d and worker", port)
	key, err = devAdminKey(ctx, e, stack.Dir)
	if err != nil {
		done("failed")
		return "", nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		done("failed")
		return "", nil, fmt.Errorf("port %d is taken (set PORT to use another): %w", port, err)
	}
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Go(func() { errc <- e.Serve(runCtx, ln) })
	wg.Go(func() { errc <- e.RunWorker(runCtx) })
	stack.OnClose(func() { stopRun(); wg.Wait() })
	done("started")
	return key, errc, nil
}

// devDir is the dev stack's state directory: HOGSEND_DEV_DIR, else .hogsend.
func (r *runner) devDir() string {
	if v, ok := r.opts.lookupEnv()("HOGSEND_DEV_DIR"); ok && v != "" {
		return v
	}
	return ".hogsend"
}

// devKey is the admin key `dev` keeps, when there is one: the operator commands' last resort.
func (r *runner) devKey() string {
	raw, err := os.ReadFile(filepath.Join(r.devDir(), "admin-key"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(raw))
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

func printBanner(w io.Writer, cfg *Config, settings *devstack.Settings, s *devstack.Services, key string, engine bool) {
	line := strings.Repeat("─", 66)
	version := ""
	if v := EngineVersion(); v != "unknown" {
		version = " " + v
	}
	if engine {
		fmt.Fprintf(w, "\n%s\n  Hogsend%s is ready\n%s\n", line, version, line)
		fmt.Fprintf(w, "  API            http://localhost:%d   (health: /v1/health)\n", cfg.Port)
	} else {
		fmt.Fprintf(w, "\n%s\n  Hogsend%s services are ready\n%s\n", line, version, line)
		fmt.Fprintf(w, "  API, worker    task dev:api, task dev:worker   (hogsend dev api|worker; API on :%d)\n", cfg.Port)
	}
	if s.OwnTemporal {
		fmt.Fprintf(w, "  Temporal UI    http://localhost:%d   (namespace %s)\n", settings.Temporal.UIPort, settings.Temporal.Namespace)
	}
	fmt.Fprintf(w, "  Temporal       %s\n", cfg.Temporal.Address)
	if s.OwnMailpit {
		m := settings.Mailpit
		fmt.Fprintf(w, "  Mailpit API    http://127.0.0.1:%d/api/v1/messages   (SMTP 127.0.0.1:%d)\n", m.HTTPPort, m.SMTPPort)
	} else {
		fmt.Fprintf(w, "  Mail           %s\n", redactURL(cfg.Email.SMTPURL))
	}
	fmt.Fprintf(w, "  Database       %s\n", redactURL(cfg.DatabaseURL))
	if key != "" {
		fmt.Fprintf(w, "  Admin key      %s\n", key)
		fmt.Fprintf(w, "\n  curl -H 'Authorization: Bearer %s' http://localhost:%d/v1/admin/api-keys\n", key, cfg.Port)
	} else {
		fmt.Fprintf(w, "  Admin key      (this database already had keys; mint one with `hogsend keys mint`)\n")
	}
	if engine {
		fmt.Fprintf(w, "%s\n  Ctrl-C stops everything.\n\n", line)
	} else {
		fmt.Fprintf(w, "%s\n  Ctrl-C stops the services.\n\n", line)
	}
}

// redactURL hides the password of a DSN or SMTP URL.
func redactURL(dsn string) string {
	if i := strings.Index(dsn, "://"); i >= 0 {
		if at := strings.Index(dsn, "@"); at > i {
			if colon := strings.Index(dsn[i+3:at], ":"); colon >= 0 {
				return dsn[:i+3+colon] + ":…" + dsn[at:]
			}
		}
	}
	return dsn
}
