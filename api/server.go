// Package api is the engine's HTTP API on gin: one route table (routes.go), the middleware stack,
// key authentication with scopes, and one error renderer. Handlers stay thin and call domain
// services from internal/*.
package api

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"

	"github.com/hogsend/hogsend/bucket"
	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/buckets"
	"github.com/hogsend/hogsend/internal/campaigns"
	"github.com/hogsend/hogsend/internal/imports"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/journeys"
	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/schema"
)

// Options are the application's additions to the API.
type Options struct {
	// Routes mounts custom routes after the built-in ones.
	Routes func(r gin.IRouter)
	// Middleware is appended after the built-in global stack.
	Middleware []gin.HandlerFunc
}

// TemporalHealth is the part of the Temporal client the health check uses.
type TemporalHealth interface {
	CheckHealth(ctx context.Context, req *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
}

// Config holds the API's dependencies, built by the composition root.
type Config struct {
	DB       *pgxpool.Pool
	Temporal TemporalHealth
	Keys     *apikeys.Service
	Ingest   *ingest.Service
	Imports  *imports.Service
	Journeys *journeys.Admin
	Buckets  *buckets.Admin // nil = no buckets
	Mailer   *mailer.Mailer
	// Webhooks serve /v1/admin/webhooks and /v1/admin/dlq (nil = one on DB).
	Webhooks *outbound.Admin
	// Campaigns serve /v1/campaigns (nil = one on DB, Mailer and Buckets).
	Campaigns *campaigns.Service
	Email     EmailConfig
	// Inbound are the webhook sources of POST /v1/webhooks/{sourceId}.
	Inbound Inbound
	Logger  *slog.Logger
	// Tracks are the migration tracks reported by health: engine first, then client.
	Tracks []schema.Track
	// TrustedOrigins get credentialed CORS.
	TrustedOrigins []string
	// TrustedProxies are the addresses or CIDRs whose X-Forwarded-For names the client (for
	// per-IP limits and click records); nil = loopback and private networks.
	TrustedProxies []string
	Limits         Limits
	// Production hides the API's OpenAPI document and docs page.
	Production bool
	// Version is the engine build version; Started is the process start (for uptime).
	Version string
	Started time.Time
	Options Options
}

// Limits are the in-process rate limits, per minute; zero fields take the defaults.
type Limits struct {
	Admin        int           // every /v1/admin request per API key (the legacy key shares one budget); default 100
	Emails       int           // POST /v1/emails per API key; default 30
	Window       time.Duration // the admin and email limits' window; default a minute
	Public       int           // each public route (tracking, unsubscribe, preferences, provider webhooks) per client IP; default 600
	AuthFailures int           // failed authentications per client IP, after which even a valid key waits; default 60
	Disabled     bool
}

// PrivateNetworks are the default trusted proxies: loopback and private address ranges.
var PrivateNetworks = []string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}

// Server is the HTTP API.
type Server struct {
	cfg    Config
	log    *slog.Logger
	engine *gin.Engine
	// Rate limits (nil = unlimited): admin requests and POST /v1/emails per key, public
	// routes and failed authentications per client IP.
	adminLimit, emailLimit, publicLimit, authFailures *limiter
}

// New builds the gin engine with every route mounted.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Started.IsZero() {
		cfg.Started = time.Now()
	}
	if cfg.Buckets == nil {
		none, _ := bucket.NewRegistry(nil, nil)
		cfg.Buckets = &buckets.Admin{DB: cfg.DB, Registry: none}
	}
	if cfg.Mailer == nil { // no templates and no provider: every send is refused
		cfg.Mailer = mailer.New(mailer.Config{DB: cfg.DB, Logger: cfg.Logger})
	}
	if cfg.Webhooks == nil {
		cfg.Webhooks = &outbound.Admin{DB: cfg.DB}
	}
	if cfg.Campaigns == nil { // campaigns are stored; without a worker nobody sends them
		cfg.Campaigns = &campaigns.Service{DB: cfg.DB, Mailer: cfg.Mailer, Buckets: cfg.Buckets.Registry, Logger: cfg.Logger}
	}
	s := &Server{cfg: cfg, log: cfg.Logger}
	if l := cfg.Limits; !l.Disabled {
		window := cmp.Or(l.Window, time.Minute)
		s.adminLimit = newLimiter(cmp.Or(l.Admin, 100), window)
		s.emailLimit = newLimiter(cmp.Or(l.Emails, 30), window)
		s.publicLimit = newLimiter(cmp.Or(l.Public, 600), time.Minute)
		s.authFailures = newLimiter(cmp.Or(l.AuthFailures, 60), time.Minute)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	proxies := cfg.TrustedProxies
	if proxies == nil {
		proxies = PrivateNetworks
	}
	if err := e.SetTrustedProxies(proxies); err != nil {
		s.log.Error("invalid trusted proxies; trusting none", "error", err)
		_ = e.SetTrustedProxies(nil)
	}
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = false
	e.ContextWithFallback = true
	// Template keys may hold '/', sent percent-encoded: match on the raw path, then decode.
	e.UseRawPath = true
	e.UnescapePathValues = true
	e.Use(s.recovery, secure, s.cors, requestIDs, s.requestLog, deadline)
	e.Use(cfg.Options.Middleware...)
	s.mount(e)
	if !cfg.Production {
		s.mountDocs(e)
	}
	if cfg.Options.Routes != nil {
		cfg.Options.Routes(e)
	}
	e.NoRoute(s.wrap(s.notFound))
	e.NoMethod(s.wrap(s.notFound))
	s.engine = e
	return s
}

// Mounted lists "METHOD path" of every route gin serves, the route table's and the docs'.
func (s *Server) Mounted() []string {
	var out []string
	for _, r := range s.engine.Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }
