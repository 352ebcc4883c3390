// Package hogsend is the façade an application imports: Options, New, the Engine, and Main/Run,
// which dispatch the binary's sub-commands (serve, worker, dev, migrate, keys).
//
// An application's whole main.go is
//
//	func main() { hogsend.Main(&hogsend.Options{ /* journeys, templates, … */ }) }
//
// This package is the composition root: it reads the environment once, builds typed configs for
// the api and worker packages, and is imported by none of them.
package hogsend

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/hogsend/hogsend/activities"
	"github.com/hogsend/hogsend/api"
	"github.com/hogsend/hogsend/bucket"
	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/alerts"
	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/buckets"
	"github.com/hogsend/hogsend/internal/campaigns"
	"github.com/hogsend/hogsend/internal/imports"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/journeys"
	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/schema"
	"github.com/hogsend/hogsend/webhook"
	"github.com/hogsend/hogsend/worker"
	"github.com/hogsend/hogsend/workflows"
)

// Version is the engine build version, set with -ldflags "-X github.com/hogsend/hogsend.Version=v1.2.3".
var Version = ""

// EngineVersion is Version, else the module version from the build info, else the commit it
// was built from, else "unknown".
func EngineVersion() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/hogsend/hogsend" && d.Version != "" {
				return d.Version
			}
		}
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		// A build from a checkout without a version: the commit it was built from.
		var rev, dirty string
		for _, kv := range bi.Settings {
			switch {
			case kv.Key == "vcs.revision" && len(kv.Value) >= 12:
				rev = kv.Value[:12]
			case kv.Key == "vcs.modified" && kv.Value == "true":
				dirty = "-dirty"
			}
		}
		if rev != "" {
			return "devel+" + rev + dirty
		}
	}
	return "unknown"
}

// Options are what an application registers with the engine.
type Options struct {
	// Journeys are the application's journeys (ENABLED_JOURNEYS chooses which are routed).
	Journeys []*journey.Journey
	// Buckets are the application's segments (ENABLED_BUCKETS chooses which are registered);
	// their reactions join the journeys, chosen by ENABLED_BUCKETS alone.
	Buckets []*bucket.Bucket
	// Templates are the application's email templates; Lists its subscription lists.
	Templates *email.Registry
	Lists     []email.List
	// Email tunes sending (provider override, frequency cap, bounce handling).
	Email EmailOptions
	// JourneySender replaces the send pipeline for journey emails (tests).
	JourneySender activities.JourneySender
	// ClientMigrations is the application's own migration track (NNNN_name.sql files at its
	// root); CLIENT_MIGRATIONS_FOLDER is used when nil.
	ClientMigrations fs.FS
	// WebhookSources are the application's inbound webhook sources (POST /v1/webhooks/{id});
	// one with a preset's id replaces that preset.
	WebhookSources []*webhook.Source
	// DisableWebhookPresets mounts none of the shipped presets, whatever their secrets.
	DisableWebhookPresets bool
	// API adds routes and middleware.
	API api.Options
	// Worker adds workflows and activities.
	Worker worker.Options
	// LookupEnv replaces os.LookupEnv (tests). Environ replaces os.Environ.
	LookupEnv func(string) (string, bool)
	Environ   func() []string
}

func (o *Options) lookupEnv() func(string) (string, bool) {
	if o != nil && o.LookupEnv != nil {
		return o.LookupEnv
	}
	return os.LookupEnv
}

func (o *Options) environ() []string {
	if o != nil && o.Environ != nil {
		return o.Environ()
	}
	if o != nil && o.LookupEnv != nil {
		return nil
	}
	return os.Environ()
}

// Engine is a configured engine: a database pool, a lazy Temporal client and the services
// built on them. It serves the API, runs the worker and migrates.
type Engine struct {
	cfg      *Config
	opts     *Options
	log      *slog.Logger
	pool     *pgxpool.Pool
	temporal client.Client
	keys     *apikeys.Service
	outbox   *outbox.Dispatcher
	ingest   *ingest.Service
	imports  *imports.Service
	journeys *journey.Registry
	buckets  *bucket.Registry
	// membership is the real-time bucket check (its admin-switch cache is dropped on PATCH).
	membership *buckets.Consumer
	campaigns  *campaigns.Service
	// webhookSender attempts outbound deliveries; deliverer makes the first attempts.
	webhookSender *outbound.Sender
	deliverer     *outbound.Deliverer
	sender        activities.JourneySender
	// mail is the API's send pipeline (in-process provider retries); workerMail the worker's.
	mail, workerMail *mailer.Mailer
	closeProvider    func()
	// sources are the inbound webhook sources served (presets, then the application's).
	sources []*webhook.Source
	started time.Time
	// dispatching runs the outbox dispatcher once per engine, whichever of Serve and RunWorker
	// starts first; Close stops it.
	dispatching  sync.Once
	stopDispatch context.CancelFunc
	dispatchDone chan struct{}
	// Stdout receives output meant for the operator (the first-boot key).
	Stdout io.Writer
}

// New builds an engine. It opens the pool and a lazy Temporal client, so it succeeds while
// Temporal is down; nothing is served until Serve or RunWorker.
func New(ctx context.Context, cfg *Config, opts *Options, logger *slog.Logger) (*Engine, error) {
	if opts == nil {
		opts = &Options{}
	}
	if logger == nil {
		logger = slog.Default()
	}
	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	poolCfg.ConnConfig.RuntimeParams["application_name"] = "hogsend"
	// Reporting renders date_trunc(...)::text, whose format depends on the session zone.
	poolCfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	// A stalled statement ends instead of holding its connection and its callers; a DSN's own
	// statement_timeout (e.g. for very large exports) wins.
	if _, set := poolCfg.ConnConfig.RuntimeParams["statement_timeout"]; !set {
		poolCfg.ConnConfig.RuntimeParams["statement_timeout"] = DefaultStatementTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	bucketRegistry, err := bucket.NewRegistry(opts.Buckets, cfg.EnabledBuckets.Allows)
	if err != nil {
		pool.Close()
		return nil, err
	}
	reactions := bucketRegistry.Journeys()
	owned := map[string]bool{}
	for _, j := range reactions {
		owned[j.ID] = true
	}
	registry, err := journey.NewRegistry(append(slices.Clone(opts.Journeys), reactions...),
		func(id string) bool { return owned[id] || cfg.EnabledJourneys.Allows(id) })
	if err != nil {
		pool.Close()
		return nil, err
	}
	var presets []*webhook.Source
	if !opts.DisableWebhookPresets {
		presets = webhook.EnabledPresets(cfg.Inbound.EnabledPresets, cfg.inboundSecret(opts.lookupEnv()))
	}
	sources, err := webhook.Mount(presets, opts.WebhookSources)
	if err != nil {
		pool.Close()
		return nil, err
	}
	tc, err := newTemporalClient(cfg, logger)
	if err != nil {
		pool.Close()
		return nil, err
	}
	d := &outbox.Dispatcher{DB: pool, Logger: logger}
	outbox.RegisterTemporal(d, tc, cfg.Temporal.TaskQueue)
	// First attempts of new deliveries run here; only a delivery that must be retried becomes a workflow.
	settings := cfg.Webhooks.Settings
	settings.UserAgent = "Hogsend-Webhooks/" + EngineVersion()
	sender := &outbound.Sender{DB: pool, Settings: settings}
	deliverer := &outbound.Deliverer{Sender: sender, Outbox: d, Logger: logger}
	outbound.Register(d, pool, deliverer)
	d.Followers = []outbox.Kicker{deliverer} // emits insert their deliveries in the producer's transaction
	journeys.RegisterStarts(d, tc, pool, cfg.Temporal.TaskQueue)
	// Buckets run after journey routing and exits, so a transition's own routing comes after.
	membership := &buckets.Consumer{Registry: bucketRegistry, Journeys: registry, Logger: logger}
	svc := &ingest.Service{DB: pool, Outbox: d, Consumers: []ingest.Consumer{&journeys.Consumer{Registry: registry, Logger: logger,
		DefaultTimezone: cfg.DefaultTimezone, SendWindow: cfg.SendWindow}, membership}}
	membership.Ingest = svc
	membership.Register(d) // the sweep's transitions, announced by the dispatcher
	importer := &imports.Service{DB: pool, Outbox: d, Workflow: imports.Workflow{
		Type:    workflows.ImportContactsName,
		ID:      workflows.ImportWorkflowID,
		Input:   func(jobID string) any { return workflows.ImportContactsInput{JobID: jobID, TotalRows: -1} },
		Timeout: 600,
	}}
	svc.EnableGroupCommit(&ingest.GroupCommit{})
	mail, workerMail, closeProvider, err := newMailers(cfg, opts, svc, pool, logger)
	if err != nil {
		pool.Close()
		tc.Close()
		return nil, err
	}
	workerMail.Register(d)
	var limiter *rate.Limiter
	if n := cfg.Campaign.SendsPerSecond; n > 0 {
		limiter = rate.NewLimiter(rate.Limit(n), n)
	}
	// Campaign sends use the retrying mailer: a provider's 429 or 5xx is retried within the page.
	campaignSvc := &campaigns.Service{DB: pool, Mailer: mail, Buckets: bucketRegistry, Outbox: d, Logger: logger, DefaultTimezone: cfg.DefaultTimezone,
		Send: campaigns.SendSettings{PageSize: cfg.Campaign.PageSize, Concurrency: cfg.Campaign.Concurrency, Limiter: limiter,
			PauseAfterFailures: cmp.Or(cfg.Campaign.PauseAfterFailures, -1)}}
	journeySender := opts.JourneySender
	if journeySender == nil {
		journeySender = activities.MailerJourneySender{Mailer: workerMail}
	}
	return &Engine{
		cfg: cfg, opts: opts, log: logger, pool: pool, temporal: tc,
		keys:     &apikeys.Service{DB: pool, LegacyKey: cfg.AdminAPIKey},
		outbox:   d,
		ingest:   svc,
		imports:  importer,
		journeys: registry,
		buckets:  bucketRegistry, membership: membership,
		sender: journeySender, campaigns: campaignSvc, webhookSender: sender, deliverer: deliverer,
		mail: mail, workerMail: workerMail, closeProvider: closeProvider,
		sources: sources,
		started: time.Now(),
		Stdout:  os.Stdout,
	}, nil
}

// Journeys returns the journey registry (the application's journeys and the buckets' reactions).
func (e *Engine) Journeys() *journey.Registry { return e.journeys }

// Buckets returns the bucket registry.
func (e *Engine) Buckets() *bucket.Registry { return e.buckets }

// Members reads bucket membership (count, has, pages of members) for application code.
func (e *Engine) Members() buckets.Access { return buckets.Access{DB: e.pool} }

// Ingest returns the ingest service (events, contacts, lists).
func (e *Engine) Ingest() *ingest.Service { return e.ingest }

// Outbox returns the dispatcher of after-commit intents.
func (e *Engine) Outbox() *outbox.Dispatcher { return e.outbox }

// startDispatcher runs the outbox dispatcher until Close (once per engine). It outlives the
// API's and worker's contexts so that intents committed while they drain are still performed.
func (e *Engine) startDispatcher() {
	e.dispatching.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		e.stopDispatch, e.dispatchDone = cancel, make(chan struct{})
		go func() {
			defer close(e.dispatchDone)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); e.deliverer.Run(ctx) }()
			_ = e.outbox.Run(ctx)
			wg.Wait()
		}()
	})
}

// newTemporalClient makes a client that connects on first use, so the API boots and reports
// `temporal: down` while Temporal is unreachable.
func newTemporalClient(cfg *Config, logger *slog.Logger) (client.Client, error) {
	opts := client.Options{
		HostPort:  cfg.Temporal.Address,
		Namespace: cfg.Temporal.Namespace,
		Logger:    tlog.NewStructuredLogger(logger.With("component", "temporal")),
		// After an outage, reconnect within seconds (gRPC's default backoff grows to 2 minutes).
		ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 200 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 5 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		})}},
	}
	if cfg.Temporal.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(cfg.Temporal.APIKey)
	}
	if cfg.Temporal.TLSStrategy != "none" || cfg.Temporal.APIKey != "" {
		tlsCfg := &tls.Config{ServerName: cfg.Temporal.TLSServerName, MinVersion: tls.VersionTLS12}
		if cfg.Temporal.TLSCA != "" {
			pem, err := os.ReadFile(cfg.Temporal.TLSCA)
			if err != nil {
				return nil, fmt.Errorf("read TEMPORAL_TLS_CA: %w", err)
			}
			tlsCfg.RootCAs = x509.NewCertPool()
			if !tlsCfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, errors.New("TEMPORAL_TLS_CA holds no PEM certificate")
			}
		}
		if cfg.Temporal.TLSStrategy == "mtls" {
			cert, err := tls.LoadX509KeyPair(cfg.Temporal.TLSCert, cfg.Temporal.TLSKey)
			if err != nil {
				return nil, fmt.Errorf("load TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
			}
			tlsCfg.Certificates = []tls.Certificate{cert}
		}
		opts.ConnectionOptions.TLS = tlsCfg
	}
	c, err := client.NewLazyClient(opts)
	if err != nil {
		return nil, fmt.Errorf("temporal client: %w", err)
	}
	return c, nil
}

// Config returns the engine's configuration.
func (e *Engine) Config() *Config { return e.cfg }

// Temporal returns the engine's Temporal client.
func (e *Engine) Temporal() client.Client { return e.temporal }

// Keys returns the API key service.
func (e *Engine) Keys() *apikeys.Service { return e.keys }

// Close stops the dispatcher and releases the pool and the Temporal client.
func (e *Engine) Close() {
	e.dispatching.Do(func() {}) // no dispatcher may start after Close
	if e.stopDispatch != nil {
		e.stopDispatch()
		<-e.dispatchDone
	}
	e.ingest.Close()
	e.mail.Close()
	e.workerMail.Close()
	e.webhookSender.Close()
	e.closeProvider()
	e.temporal.Close()
	e.pool.Close()
}

// tracks are the engine track and, when configured, the application's client track.
func (e *Engine) tracks() []schema.Track {
	fsys := e.opts.ClientMigrations
	if fsys == nil && e.cfg.ClientMigrationsFolder != "" {
		if st, err := os.Stat(e.cfg.ClientMigrationsFolder); err == nil && st.IsDir() {
			fsys = os.DirFS(e.cfg.ClientMigrationsFolder)
		}
	}
	return []schema.Track{schema.Engine(), schema.Client(fsys)}
}

// Migrate applies the engine track, then the client track.
func (e *Engine) Migrate(ctx context.Context) error {
	m := &schema.Migrator{DatabaseURL: e.cfg.DatabaseURL, Logger: e.log}
	return m.Up(ctx, e.tracks()...)
}

// MigrationStatus reads both tracks.
func (e *Engine) MigrationStatus(ctx context.Context) ([]schema.Status, error) {
	var out []schema.Status
	for _, t := range e.tracks() {
		st, err := schema.ReadStatus(ctx, e.pool, t)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// ErrSchemaBehind is returned by CheckSchema when engine migrations are pending.
var ErrSchemaBehind = errors.New("database schema is behind this build")

// CheckSchema is the boot guard: an error unless the engine track is fully applied.
func (e *Engine) CheckSchema(ctx context.Context) error {
	st, err := schema.ReadStatus(ctx, e.pool, schema.Engine())
	if err != nil {
		return err
	}
	if st.LedgerError != nil {
		return fmt.Errorf("%w (%s): %v", ErrSchemaBehind, st.Describe(), st.LedgerError)
	}
	if !st.InSync {
		return fmt.Errorf("%w: %s — run `migrate up`, or set SKIP_SCHEMA_CHECK=true to boot anyway", ErrSchemaBehind, st.Describe())
	}
	return nil
}

// API returns the HTTP handler.
func (e *Engine) API() http.Handler { return e.apiServer() }

func (e *Engine) apiServer() *api.Server {
	return api.New(api.Config{
		DB:         e.pool,
		Temporal:   e.temporal,
		Keys:       e.keys,
		Ingest:     e.ingest,
		Imports:    e.imports,
		Journeys:   &journeys.Admin{Ingest: e.ingest, Registry: e.journeys, Temporal: e.temporal},
		Buckets:    &buckets.Admin{DB: e.pool, Registry: e.buckets, Journeys: e.journeys, Switched: e.membership.Forget},
		Mailer:     e.mail,
		Campaigns:  e.campaigns,
		Webhooks:   &outbound.Admin{DB: e.pool, Deliverer: e.deliverer},
		Email:      api.EmailConfig{WebhookSecret: e.cfg.Email.ResendWebhookSecret, UnsubscribeConfirm: e.cfg.Email.UnsubscribeConfirm},
		Inbound:    api.Inbound{Sources: e.sources, Secret: e.cfg.inboundSecret(e.opts.lookupEnv())},
		Production: e.cfg.Env == "production",
		Limits: api.Limits{Admin: e.cfg.RateLimit.AdminMax, Window: e.cfg.RateLimit.Window, Emails: e.cfg.RateLimit.EmailsMax, Public: e.cfg.RateLimit.PublicMax, AuthFailures: e.cfg.RateLimit.AuthFailuresMax,
			Disabled: e.cfg.RateLimit.Disabled || e.cfg.Env == "test"},
		TrustedProxies: e.cfg.TrustedProxies,
		Logger:         e.log,
		Tracks:         e.tracks(),
		TrustedOrigins: e.cfg.TrustedOriginSet(),
		Version:        EngineVersion(),
		Started:        e.started,
		Options:        e.opts.API,
	})
}

// DefaultStatementTimeout bounds every statement of the engine's pool unless DATABASE_URL sets
// statement_timeout.
const DefaultStatementTimeout = "60s"

// BootstrapKeyName names the key minted on first boot.
const BootstrapKeyName = "bootstrap"

// MintFirstKey creates a full-admin key when the database has none; ok is false otherwise.
func (e *Engine) MintFirstKey(ctx context.Context) (apikeys.Created, bool, error) {
	return e.keys.MintFirst(ctx, apikeys.NewKey{Name: BootstrapKeyName, Scopes: []apikeys.Scope{apikeys.FullAdmin, apikeys.Ingest}, CreatedBy: "first-boot"})
}

// Serve runs the API on ln until ctx is cancelled, then drains in-flight requests for up to 10 s.
// It refuses to start while the engine schema is behind (unless SKIP_SCHEMA_CHECK), and on a
// database with no API keys it mints one and prints it once.
func (e *Engine) Serve(ctx context.Context, ln net.Listener) error {
	if e.cfg.SkipSchemaCheck {
		e.log.Warn("SKIP_SCHEMA_CHECK is set: serving without checking the engine schema")
	} else if err := e.CheckSchema(ctx); err != nil {
		return err
	}
	if k, ok, err := e.MintFirstKey(ctx); err != nil {
		return fmt.Errorf("first-boot API key: %w", err)
	} else if ok {
		fmt.Fprintf(e.Stdout, "\nNo API key existed, so one full-admin key was created. It is shown only this once:\n\n    %s\n\n", k.Token)
	}
	e.startDispatcher()
	handler := e.apiServer()
	srv := newHTTPServer(handler, e.log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	e.log.Info("Hogsend API ready", "engineVersion", EngineVersion(), "apiVersion", api.APIVersion,
		"url", "http://"+ln.Addr().String(), "publicUrl", e.cfg.PublicURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		e.log.Error("Forced shutdown after timeout")
		return fmt.Errorf("forced shutdown: %w", err)
	}
	e.log.Info("Server closed")
	return nil
}

// newHTTPServer bounds every phase of a connection: a slow header or body, a slow reader of the
// response and an idle keep-alive each end it.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,                    // header and body
		WriteTimeout:      60*time.Second + api.RequestTimeout, // from the header's end: body, handler, response
		IdleTimeout:       72 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// NewWorker builds the Temporal worker of this engine.
func (e *Engine) NewWorker() (*worker.Worker, error) {
	return worker.New(worker.Config{
		Client:            e.temporal,
		DB:                e.pool,
		TaskQueue:         e.cfg.Temporal.TaskQueue,
		Logger:            e.log,
		EngineVersion:     EngineVersion(),
		Options:           e.opts.Worker,
		Namespace:         e.cfg.Temporal.Namespace,
		Journeys:          e.journeys.Defined(),
		JourneyActivities: &activities.Journeys{DB: e.pool, Ingest: e.ingest, Sender: e.sender, Logger: e.log},
		Buckets: &activities.Buckets{Reconciler: &buckets.Reconciler{DB: e.pool, Registry: e.buckets, Logger: e.log},
			Backfiller: &buckets.Backfiller{DB: e.pool, Registry: e.buckets}},
		ReconcileCron: e.cfg.BucketReconcileCron,
		Campaigns: &activities.Campaigns{Campaigns: e.campaigns,
			Reap: campaigns.ReapSettings{StaleAfter: e.cfg.Campaign.StaleAfter, GiveUpAfter: e.cfg.Campaign.GiveUpAfter}},
		ReaperCron:         e.cfg.Campaign.ReaperCron,
		Webhooks:           &activities.Webhooks{Sender: e.webhookSender, DB: e.pool, Kick: e.outbox.Kick, StuckAfter: e.cfg.Webhooks.StuckAfter},
		WebhookSweeperCron: e.cfg.Webhooks.SweeperCron,
		Alerts: &activities.Alerts{Checker: &alerts.Checker{DB: e.pool, Mail: e.workerMail.Provider(), From: e.cfg.Alerts.From,
			Logger: e.log}},
		AlertsCron: e.cfg.Alerts.Cron,
	})
}

// RunWorker runs the Temporal worker until ctx is cancelled.
func (e *Engine) RunWorker(ctx context.Context) error {
	w, err := e.NewWorker()
	if err != nil {
		return err
	}
	e.log.Info("Hogsend worker starting", "temporal", e.cfg.Temporal.Address, "namespace", e.cfg.Temporal.Namespace)
	e.startDispatcher()
	return w.Run(ctx)
}
