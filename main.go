package hogsend

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/cli"
	"github.com/hogsend/hogsend/schema"
)

const usage = `Usage: %[1]s <command> [flags]

Commands:
  serve                 run the HTTP API (PORT, default 3002)
  worker                run the Temporal worker
  dev [infra|api|worker]
                        run everything locally: Temporal dev server + Web UI, Postgres,
                        Mailpit, migrations, API and worker; or in parts: the services
                        (infra), then the API and the worker on them
  migrate [up|status|stamp] [--json]
                        apply or inspect the engine and client migration tracks
  keys mint --name N [--scopes read,ingest] [--expires RFC3339] [--json]
            [--env-file .env [--env-var HOGSEND_API_KEY]]
                        create an API key straight in the database and print it once
  config                list every environment variable with its default
  version               print the engine version

Operator commands (over the HTTP API; global flags --url, --admin-key, --data-key, --json;
flags > environment > ./.env; '%[1]s <command> --help' for each):
  doctor                health verdict: database, Temporal, worker, schema (exit 1 unless ok)
  stats                 headline numbers
  journeys list|get|enable|disable
  contacts list|get|timeline|upsert|import FILE|export
  events <userId> | events send <name>
  emails send <template>
  campaigns send|status [--watch]
  webhooks list|get|create|update|delete|rotate-secret|test
  keys list|create|revoke|rotate
  audit                 audited admin mutations
  alerts rules list|create|update|delete, alerts history
  dlq list|retry|discard

Configuration comes from the environment; see the README or '%[1]s config'.
`

// ShutdownSignal is the context cause used when SIGINT or SIGTERM arrives.
type ShutdownSignal struct{ os.Signal }

func (s ShutdownSignal) Error() string { return s.Signal.String() + " received" }

// Main runs the binary: it parses os.Args, reads the environment, and exits with Run's code.
// SIGINT and SIGTERM shut down gracefully.
func Main(opts *Options) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		cancel(ShutdownSignal{s})
		<-sigs // a second signal forces the exit
		fmt.Fprintln(os.Stderr, "second signal: exiting now")
		os.Exit(1)
	}()
	os.Exit(Run(ctx, os.Args, os.Stdout, os.Stderr, opts))
}

// Run executes one command (args[0] is the program name) and returns the exit code. It is what
// Main calls, usable from tests.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, opts *Options) int {
	prog := "hogsend"
	if len(args) > 0 {
		prog = args[0]
		args = args[1:]
	}
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	r := &runner{prog: prog, stdout: stdout, stderr: stderr, opts: opts}
	if slices.Contains(cli.Commands, cmd) && !(cmd == "keys" && len(args) > 0 && args[0] == "mint") {
		return cli.Execute(ctx, append([]string{cmd}, args...), stdout, stderr, cli.Env{Lookup: r.opts.lookupEnv(), DevKey: r.devKey})
	}
	var err error
	switch cmd {
	case "serve":
		err = r.serve(ctx, args)
	case "worker":
		err = r.worker(ctx, args)
	case "dev":
		err = r.dev(ctx, args)
	case "migrate":
		err = r.migrate(ctx, args)
	case "keys":
		err = r.keys(ctx, args)
	case "config":
		r.config()
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, EngineVersion())
	case "help", "--help", "-h":
		fmt.Fprintf(stdout, usage, prog)
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n"+usage, cmd, prog)
		return 2
	}
	if err == nil {
		return 0
	}
	var cfgErr *ConfigError
	if errors.As(err, &cfgErr) {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !errors.Is(err, errReported) {
		fmt.Fprintf(stderr, "%s %s: %v\n", prog, cmd, err)
	}
	return 1
}

// errReported means the failure was already logged.
var errReported = errors.New("reported")

type runner struct {
	prog           string
	stdout, stderr io.Writer
	opts           *Options
}

// load reads the configuration for a role and builds the logger.
func (r *runner) load(role Role) (*Config, *slog.Logger, error) {
	cfg, warnings, err := LoadConfig(r.opts.lookupEnv(), r.opts.environ(), role)
	if err != nil {
		return nil, nil, err
	}
	log := newLogger(cfg, r.stderr)
	for _, w := range warnings {
		log.Warn(w)
	}
	return cfg, log, nil
}

// newLogger writes JSON lines in production and test, readable text in development.
func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.LevelKey && a.Value.Any() == LevelHTTP {
			a.Value = slog.StringValue("HTTP")
		}
		return a
	}}
	if cfg.Env == "development" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func (r *runner) engine(ctx context.Context, role Role) (*Engine, error) {
	cfg, log, err := r.load(role)
	if err != nil {
		return nil, err
	}
	e, err := New(ctx, cfg, r.opts, log)
	if err != nil {
		return nil, err
	}
	e.Stdout = r.stdout
	return e, nil
}

// logShutdown notes why a long-running command is stopping.
func logShutdown(ctx context.Context, log *slog.Logger) {
	var sig ShutdownSignal
	if errors.As(context.Cause(ctx), &sig) {
		log.Info(sig.Signal.String() + " received, shutting down gracefully")
	}
}

func (r *runner) serve(ctx context.Context, _ []string) error {
	e, err := r.engine(ctx, RoleAPI)
	if err != nil {
		return err
	}
	defer e.Close()
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(e.cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on port %d: %w", e.cfg.Port, err)
	}
	defer context.AfterFunc(ctx, func() { logShutdown(ctx, e.log) })()
	if err := e.Serve(ctx, ln); err != nil {
		if errors.Is(err, ErrSchemaBehind) {
			e.log.Error("Refusing to start: "+err.Error(), "required", "see migrate status")
			return errReported
		}
		return err
	}
	return nil
}

func (r *runner) worker(ctx context.Context, _ []string) error {
	e, err := r.engine(ctx, RoleWorker)
	if err != nil {
		return err
	}
	defer e.Close()
	defer context.AfterFunc(ctx, func() { logShutdown(ctx, e.log) })()
	return e.RunWorker(ctx)
}

func (r *runner) migrate(ctx context.Context, args []string) error {
	sub := "up"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("migrate "+sub, flag.ContinueOnError)
	fs.SetOutput(r.stderr)
	asJSON := fs.Bool("json", false, "print status as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := r.engine(ctx, RoleMigrate)
	if err != nil {
		return err
	}
	defer e.Close()
	switch sub {
	case "up":
		return e.Migrate(ctx)
	case "stamp":
		m := &schema.Migrator{DatabaseURL: e.cfg.DatabaseURL, Logger: e.log}
		return m.Stamp(ctx, schema.Engine())
	case "status":
		sts, err := e.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			out := map[string]schema.Status{}
			for _, st := range sts {
				out[st.Track] = st
			}
			return json.NewEncoder(r.stdout).Encode(out)
		}
		for _, st := range sts {
			state := "in sync"
			if !st.InSync {
				state = "PENDING"
			}
			if st.LedgerError != nil {
				state = "ledger unreadable: " + st.LedgerError.Error()
			}
			fmt.Fprintf(r.stdout, "%-7s %s — %s\n", st.Track+":", state, st.Describe())
		}
		return nil
	default:
		return fmt.Errorf("unknown migrate command %q (up, status, stamp)", sub)
	}
}

func (r *runner) keys(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "mint" {
		return errors.New("usage: keys mint --name N [--scopes read,ingest] [--expires RFC3339] [--json] [--env-file F [--env-var V]]")
	}
	fs := flag.NewFlagSet("keys mint", flag.ContinueOnError)
	fs.SetOutput(r.stderr)
	name := fs.String("name", "", "key name (1 to 100 characters)")
	scopes := fs.String("scopes", "read", "comma-separated scopes: read, journey-admin, full-admin, ingest")
	expires := fs.String("expires", "", "expiry as RFC 3339 (optional)")
	asJSON := fs.Bool("json", false, "print the key as JSON")
	envFile := fs.String("env-file", "", "also write the key into this .env file (skipped if it already holds one)")
	envVar := fs.String("env-var", "HOGSEND_API_KEY", "variable name used with --env-file")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	n, err := parseMintFlags(*name, *scopes, *expires)
	if err != nil {
		return err
	}
	if *envFile != "" {
		if existing := envFileValue(*envFile, *envVar); strings.HasPrefix(existing, apikeys.Prefix) {
			fmt.Fprintf(r.stdout, "%s already holds %s; no key minted\n", *envFile, *envVar)
			return nil
		}
	}
	e, err := r.engine(ctx, RoleKeys)
	if err != nil {
		return err
	}
	defer e.Close()
	n.CreatedBy = "cli"
	k, err := e.keys.Create(ctx, n)
	if err != nil {
		return err
	}
	if *envFile != "" {
		f, err := os.OpenFile(*envFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(f, "%s=%s\n", *envVar, k.Token)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	if *asJSON {
		return json.NewEncoder(r.stdout).Encode(map[string]any{
			"id": k.ID, "name": k.Name, "key": k.Token, "keyPrefix": k.KeyPrefix, "scopes": k.Scopes, "expiresAt": k.ExpiresAt,
		})
	}
	fmt.Fprintf(r.stdout, "%s\n", k.Token)
	fmt.Fprintf(r.stderr, "minted key %q (%s) with scopes %s — it is not shown again\n", k.Name, k.ID, strings.Join(k.Scopes, ","))
	return nil
}

func parseMintFlags(name, scopes, expires string) (apikeys.NewKey, error) {
	var problems []string
	n := apikeys.NewKey{Name: strings.TrimSpace(name)}
	if n.Name == "" || len([]rune(n.Name)) > 100 {
		problems = append(problems, "--name is required (1 to 100 characters)")
	}
	for _, s := range strings.Split(scopes, ",") {
		sc := apikeys.Scope(strings.TrimSpace(s))
		if !sc.Valid() {
			problems = append(problems, fmt.Sprintf("--scopes: unknown scope %q", sc))
			continue
		}
		n.Scopes = append(n.Scopes, sc)
	}
	if expires != "" {
		t, err := time.Parse(time.RFC3339, expires)
		if err != nil {
			problems = append(problems, "--expires must be RFC 3339, e.g. 2027-01-01T00:00:00Z")
		} else {
			n.ExpiresAt = &t
		}
	}
	if len(problems) > 0 {
		return n, errors.New(strings.Join(problems, "; "))
	}
	return n, nil
}

// envFileValue reads one KEY=VALUE from a .env file ("" when absent).
func envFileValue(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		k, v, ok := strings.Cut(line, "=")
		if ok && strings.TrimSpace(k) == key {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

func (r *runner) config() {
	for _, v := range ConfigVars() {
		def := v.Default
		if def == "" {
			def = "—"
		}
		fmt.Fprintf(r.stdout, "%-32s %-24s %s\n", v.Name, def, v.Doc)
	}
}
