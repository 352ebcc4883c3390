package hogsend

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/hogsend/hogsend/api"
	"github.com/hogsend/hogsend/internal/outbound"
	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/worker"
)

// Role is the process mode a configuration is validated for: requirements differ per role.
type Role string

// Process roles.
const (
	RoleAPI     Role = "serve"
	RoleWorker  Role = "worker"
	RoleDev     Role = "dev"
	RoleMigrate Role = "migrate"
	RoleKeys    Role = "keys"
)

// LevelHTTP sits between info and debug: one line per HTTP request.
const LevelHTTP = api.LevelHTTP

// Config is every environment variable the engine reads, parsed and validated once at start-up.
// The table in configVars is the single source of defaults, documentation and parsing.
type Config struct {
	Env                    string // development | production | test
	Port                   int
	LogLevel               slog.Level
	DatabaseURL            string
	PublicURL              string
	AdminAPIKey            string
	SkipSchemaCheck        bool
	ClientMigrationsFolder string

	AuthSecret     string
	TokenSecret    string // signs unsubscribe and preference tokens: HOGSEND_TOKEN_SECRET, else BETTER_AUTH_SECRET
	AuthURL        string
	TrustedOrigins []string // extra origins; see TrustedOriginSet
	TrustedProxies []string // nil = loopback and private networks

	Email    EmailConfig
	Temporal TemporalConfig

	EnabledJourneys, EnabledLists, EnabledBuckets Filter
	BucketReconcileCron                           string

	// DefaultTimezone is the zone of contacts without a valid one; SendWindow the default quiet
	// hours of When() (nil = none).
	DefaultTimezone string
	SendWindow      *journey.SendWindow

	RateLimit RateLimitConfig
	Campaign  CampaignConfig
	Webhooks  WebhookConfig
	Inbound   InboundConfig
	Alerts    AlertsConfig
}

// AlertsConfig schedules the alert check.
type AlertsConfig struct {
	Cron string // ALERTS_CHECK_CRON
	From string // ALERTS_FROM_EMAIL
}

// InboundConfig gates the inbound webhook presets.
type InboundConfig struct {
	EnabledPresets string            // ENABLED_WEBHOOK_PRESETS as given
	Secrets        map[string]string // the presets' secrets, by variable name
}

// inboundSecret resolves a webhook source's secret variable at request time: the loaded value
// for the presets' variables, the environment for an application source's own.
func (c *Config) inboundSecret(lookup func(string) (string, bool)) func(string) string {
	return func(name string) string {
		if v, ok := c.Inbound.Secrets[name]; ok {
			return v
		}
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
}

// WebhookConfig tunes outbound webhook delivery.
type WebhookConfig struct {
	Settings    outbound.Settings
	StuckAfter  time.Duration
	SweeperCron string
}

// CampaignConfig tunes campaign sending and the reaper.
type CampaignConfig struct {
	ReaperCron              string
	StaleAfter, GiveUpAfter time.Duration
	PageSize, Concurrency   int
	SendsPerSecond          int // 0 = no cap
	PauseAfterFailures      int // 0 = never
}

// EmailConfig selects and configures the email provider.
type EmailConfig struct {
	Provider            string // resend | smtp | sink
	ResendAPIKey        string
	From                string
	ResendWebhookSecret string
	UnsubscribeConfirm  bool
	SMTPURL             string
	SinkDir             string
}

// TemporalConfig says how to reach Temporal.
type TemporalConfig struct {
	Address       string
	Namespace     string
	TaskQueue     string
	TLSStrategy   string // none | tls | mtls
	APIKey        string
	TLSCert       string
	TLSKey        string
	TLSCA         string
	TLSServerName string
}

// RateLimitConfig sets the in-process rate limits.
type RateLimitConfig struct {
	AdminMax        int
	Window          time.Duration
	EmailsMax       int
	PublicMax       int
	AuthFailuresMax int
	Disabled        bool
}

// Filter is a parsed ENABLED_* allow-list; the zero value allows everything.
type Filter struct {
	ids map[string]bool
}

// ParseFilter reads "*", "" or a comma-separated list of ids.
func ParseFilter(s string) Filter {
	s = strings.TrimSpace(s)
	if s == "" || s == "*" {
		return Filter{}
	}
	ids := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			ids[p] = true
		}
	}
	return Filter{ids: ids}
}

// Allows reports whether id passes the filter.
func (f Filter) Allows(id string) bool { return f.ids == nil || f.ids[id] }

// TrustedOriginSet is the deduplicated set of origins trusted for credentialed CORS.
func (c *Config) TrustedOriginSet() []string {
	var out []string
	for _, o := range append([]string{c.AuthURL, c.PublicURL}, c.TrustedOrigins...) {
		o = strings.TrimRight(o, "/")
		if o != "" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// ConfigError lists every problem found in the environment, one per line.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

// configVar is one row of the configuration table.
type configVar struct {
	Name    string
	Default string
	Doc     string
	// required reports whether the variable must be set for the role (after defaults).
	required func(c *Config, r Role) bool
	set      func(c *Config, v string) error
}

// ConfigVars lists the variables for documentation (README table, `hogsend help config`).
func ConfigVars() []struct{ Name, Default, Doc string } {
	out := make([]struct{ Name, Default, Doc string }, 0, len(configVars))
	for _, v := range configVars {
		out = append(out, struct{ Name, Default, Doc string }{v.Name, v.Default, v.Doc})
	}
	return out
}

// servesTraffic: serve and worker need secrets and a provider; dev generates its own.
func servesTraffic(_ *Config, r Role) bool { return r == RoleAPI || r == RoleWorker }
func needsDatabase(_ *Config, r Role) bool { return r != RoleDev } // dev starts its own

var configVars = []configVar{
	{"NODE_ENV", "development", "development | production | test. test disables rate limits.", nil,
		func(c *Config, v string) error { c.Env = v; return oneOf(v, "development", "production", "test") }},
	{"PORT", "3002", "API listen port (0 picks a free port).", nil,
		func(c *Config, v string) error { return intIn(&c.Port, v, 0, 65535) }},
	{"LOG_LEVEL", "info", "error | warn | info | http | debug (http adds one line per request).", nil,
		func(c *Config, v string) error { return parseLevel(&c.LogLevel, v) }},
	{"DATABASE_URL", "", "PostgreSQL DSN. Required except for `dev`, which starts a private cluster when unset. Statements time out after 60s unless the DSN sets `statement_timeout`.", needsDatabase,
		func(c *Config, v string) error { c.DatabaseURL = v; return dsn(v) }},
	{"API_PUBLIC_URL", "http://localhost:3002", "Public origin used in tracking, unsubscribe and preference links.", nil,
		func(c *Config, v string) error { c.PublicURL = strings.TrimRight(v, "/"); return absURL(v) }},
	{"ADMIN_API_KEY", "", "Legacy root bearer token with full-admin scope (not stored, not revocable).", nil,
		func(c *Config, v string) error { c.AdminAPIKey = v; return nil }},
	{"SKIP_SCHEMA_CHECK", "false", "true lets the API boot while the engine schema is behind (emergency only).", nil,
		func(c *Config, v string) error { return boolean(&c.SkipSchemaCheck, v) }},
	{"CLIENT_MIGRATIONS_FOLDER", "", "Directory of the application's own NNNN_name.sql migrations (client track).", nil,
		func(c *Config, v string) error { c.ClientMigrationsFolder = v; return nil }},
	{"BETTER_AUTH_SECRET", "", "HMAC secret for unsubscribe and preference tokens (≥ 32 chars recommended). Required for serve and worker; dev generates one.", servesTraffic,
		func(c *Config, v string) error { c.AuthSecret = v; return nil }},
	{"HOGSEND_TOKEN_SECRET", "BETTER_AUTH_SECRET", "Token secret that takes precedence over BETTER_AUTH_SECRET (tokens in mail already sent stop verifying when it differs).", nil,
		func(c *Config, v string) error { c.TokenSecret = v; return nil }},
	{"BETTER_AUTH_URL", "http://localhost:3002", "Admin origin; always trusted for credentialed CORS.", nil,
		func(c *Config, v string) error { c.AuthURL = strings.TrimRight(v, "/"); return absURL(v) }},
	{"BETTER_AUTH_TRUSTED_ORIGINS", "", "Extra comma-separated trusted origins (remote Studio).", nil,
		func(c *Config, v string) error { c.TrustedOrigins = csv(v); return nil }},
	{"EMAIL_PROVIDER", "resend", "resend | smtp | sink (one .eml file per message; `file` is an alias). dev uses smtp into its Mailpit.", nil,
		func(c *Config, v string) error {
			if v == "file" {
				v = "sink"
			}
			c.Email.Provider = v
			return oneOf(v, "resend", "smtp", "sink")
		}},
	{"RESEND_API_KEY", "", "Resend API key; required when EMAIL_PROVIDER=resend (serve, worker).",
		func(c *Config, r Role) bool {
			return servesTraffic(c, r) && c.Email.Provider == "resend"
		},
		func(c *Config, v string) error { c.Email.ResendAPIKey = v; return nil }},
	{"RESEND_FROM_EMAIL", "noreply@hogsend.com", "Default From address.", nil,
		func(c *Config, v string) error { c.Email.From = v; return address(v) }},
	{"RESEND_WEBHOOK_SECRET", "", "Svix secret verifying POST /v1/webhooks/resend.", nil,
		func(c *Config, v string) error { c.Email.ResendWebhookSecret = v; return nil }},
	{"UNSUBSCRIBE_GET_CONFIRM", "false", "true: an unsubscribe link opened with GET asks for a confirming click (a POST), so link scanners cannot unsubscribe anyone; one-click POST is unchanged.", nil,
		func(c *Config, v string) error { return boolean(&c.Email.UnsubscribeConfirm, v) }},
	{"SMTP_URL", "", "smtp://user:pass@host:port (STARTTLS when offered) or smtps://…; required when EMAIL_PROVIDER=smtp.",
		func(c *Config, r Role) bool { return servesTraffic(c, r) && c.Email.Provider == "smtp" },
		func(c *Config, v string) error { c.Email.SMTPURL = v; return smtpURL(v) }},
	{"EMAIL_SINK_DIR", "./.mail-sink", "Directory the sink provider writes .eml files to (EMAIL_FILE_DIR is read when this is unset).", nil,
		func(c *Config, v string) error { c.Email.SinkDir = v; return nil }},
	{"TEMPORAL_ADDRESS", "localhost:7233", "Temporal frontend host:port.", nil,
		func(c *Config, v string) error { c.Temporal.Address = v; return hostPort(v) }},
	{"TEMPORAL_NAMESPACE", "default", "Temporal namespace.", nil,
		func(c *Config, v string) error { c.Temporal.Namespace = v; return nil }},
	{"TEMPORAL_TASK_QUEUE", worker.DefaultTaskQueue, "Task queue of every engine workflow and activity.", nil,
		func(c *Config, v string) error { c.Temporal.TaskQueue = v; return nil }},
	{"TEMPORAL_TLS_STRATEGY", "none for localhost, else tls", "none | tls | mtls.", nil,
		func(c *Config, v string) error { c.Temporal.TLSStrategy = v; return oneOf(v, "none", "tls", "mtls") }},
	{"TEMPORAL_API_KEY", "", "Temporal Cloud API key (forces TLS).", nil,
		func(c *Config, v string) error { c.Temporal.APIKey = v; return nil }},
	{"TEMPORAL_TLS_CERT", "", "Client certificate PEM file; required for mtls.",
		func(c *Config, _ Role) bool { return c.Temporal.TLSStrategy == "mtls" },
		func(c *Config, v string) error { c.Temporal.TLSCert = v; return nil }},
	{"TEMPORAL_TLS_KEY", "", "Client key PEM file; required for mtls.",
		func(c *Config, _ Role) bool { return c.Temporal.TLSStrategy == "mtls" },
		func(c *Config, v string) error { c.Temporal.TLSKey = v; return nil }},
	{"TEMPORAL_TLS_CA", "", "Custom CA PEM file.", nil,
		func(c *Config, v string) error { c.Temporal.TLSCA = v; return nil }},
	{"TEMPORAL_TLS_SERVER_NAME", "", "TLS server name (SNI) override.", nil,
		func(c *Config, v string) error { c.Temporal.TLSServerName = v; return nil }},
	{"ENABLED_JOURNEYS", "*", "Comma-separated journey ids to run, or * for all.", nil,
		func(c *Config, v string) error { c.EnabledJourneys = ParseFilter(v); return nil }},
	{"BUCKET_RECONCILE_CRON", "*/5 * * * *", "Cron (5 fields, UTC) of the bucket reconcile sweep (clock-driven leaves and joins, maxDwell, dwell reactions).", nil,
		func(c *Config, v string) error { return cronSpec(&c.BucketReconcileCron, v) }},
	{"OUTBOUND_WEBHOOK_MAX_ATTEMPTS", "8", "POSTs of one delivery before it fails into the dead-letter queue (a refusal other than 408/429/5xx fails on the second).", nil,
		func(c *Config, v string) error { return intIn(&c.Webhooks.Settings.MaxAttempts, v, 1, 100) }},
	{"OUTBOUND_WEBHOOK_TIMEOUT_MS", "15000", "Per-attempt timeout of a delivery (connect, headers and body).", nil,
		func(c *Config, v string) error { return millis(&c.Webhooks.Settings.Timeout, v) }},
	{"OUTBOUND_WEBHOOK_BASE_DELAY_MS", "5000", "Retry backoff base: the delay after attempt n is base·2ⁿ plus up to one base of jitter.", nil,
		func(c *Config, v string) error { return millis(&c.Webhooks.Settings.BaseDelay, v) }},
	{"OUTBOUND_WEBHOOK_MAX_DELAY_MS", "21600000", "Retry backoff cap.", nil,
		func(c *Config, v string) error { return millis(&c.Webhooks.Settings.MaxDelay, v) }},
	{"OUTBOUND_WEBHOOK_BLOCK_PRIVATE_NETWORKS", "false", "true refuses deliveries to loopback, private, link-local, CGNAT and unspecified addresses, checked at connect time (redirects and DNS rebinding included); a refusal is retried like a network error.", nil,
		func(c *Config, v string) error { return boolean(&c.Webhooks.Settings.BlockPrivateNetworks, v) }},
	{"OUTBOUND_WEBHOOK_STUCK_AFTER_MS", "300000", "A delivery sending for this long (its attempt died) is re-driven by the sweeper.", nil,
		func(c *Config, v string) error { return millis(&c.Webhooks.StuckAfter, v) }},
	{"OUTBOUND_WEBHOOK_REAPER_CRON", "*/1 * * * *", "Cron (5 fields, UTC) of the webhook sweeper, which re-drives deliveries whose first attempt or retries were lost.", nil,
		func(c *Config, v string) error { return cronSpec(&c.Webhooks.SweeperCron, v) }},
	{"ENABLED_WEBHOOK_PRESETS", "*", "Inbound webhook presets to mount: * (each whose secret is set), none, or a comma list of clerk, supabase, stripe, segment.", nil,
		func(c *Config, v string) error { c.Inbound.EnabledPresets = v; return nil }},
	presetSecret("CLERK_WEBHOOK_SECRET", "Svix secret (whsec_…) of the Clerk preset, POST /v1/webhooks/clerk; unset = the preset is not mounted (404)."),
	presetSecret("SUPABASE_WEBHOOK_SECRET", "Svix secret, or the value sent in x-supabase-webhook-secret, of the Supabase preset, POST /v1/webhooks/supabase; unset = the preset is not mounted (404)."),
	presetSecret("STRIPE_WEBHOOK_SECRET", "Signing secret (whsec_…) of the Stripe preset, POST /v1/webhooks/stripe; unset = the preset is not mounted (404)."),
	presetSecret("SEGMENT_WEBHOOK_SECRET", "Shared secret of the x-signature HMAC of the Segment preset, POST /v1/webhooks/segment; unset = the preset is not mounted (404)."),
	{"ALERTS_CHECK_CRON", "*/5 * * * *", "Cron (5 fields, UTC) of the alert check (schedule hogsend-check-alerts), which evaluates every enabled alert rule.", nil,
		func(c *Config, v string) error { return cronSpec(&c.Alerts.Cron, v) }},
	{"ALERTS_FROM_EMAIL", "RESEND_FROM_EMAIL", "From address of email-channel alerts.", nil,
		func(c *Config, v string) error { c.Alerts.From = v; return address(v) }},
	{"CAMPAIGN_REAPER_CRON", "*/5 * * * *", "Cron (5 fields, UTC) of the campaign reaper (re-drives campaigns that stopped progressing, gives up on them after CAMPAIGN_GIVE_UP_AFTER_MS).", nil,
		func(c *Config, v string) error { return cronSpec(&c.Campaign.ReaperCron, v) }},
	{"CAMPAIGN_STALE_AFTER_MS", "900000", "A queued or sending campaign with no progress for this long is re-driven (keep it ≥ 3× the 5-minute page activity).", nil,
		func(c *Config, v string) error { return millis(&c.Campaign.StaleAfter, v) }},
	{"CAMPAIGN_GIVE_UP_AFTER_MS", "21600000", "A queued or sending campaign with no progress for this long is marked failed.", nil,
		func(c *Config, v string) error { return millis(&c.Campaign.GiveUpAfter, v) }},
	{"CAMPAIGN_PAGE_SIZE", "100", "Recipients per campaign page (one preference query, one render, one insert each).", nil,
		func(c *Config, v string) error { return intIn(&c.Campaign.PageSize, v, 1, 5000) }},
	{"CAMPAIGN_SEND_CONCURRENCY", "16", "Provider calls in flight per campaign page (SMTP: sessions kept open).", nil,
		func(c *Config, v string) error { return intIn(&c.Campaign.Concurrency, v, 1, 512) }},
	{"CAMPAIGN_SENDS_PER_SECOND", "0", "Cap on all campaign sends of one worker per second (0 = none); a campaign's own sendsPerSecond applies too.", nil,
		func(c *Config, v string) error { return intIn(&c.Campaign.SendsPerSecond, v, 0, 1_000_000) }},
	{"CAMPAIGN_PAUSE_AFTER_FAILURES", "50", "A campaign pauses itself after this many failed sends in a row (0 = never).", nil,
		func(c *Config, v string) error { return intIn(&c.Campaign.PauseAfterFailures, v, 0, 1_000_000) }},
	{"ENABLED_BUCKETS", "*", "Comma-separated bucket ids to register (with their reactions), or * for all.", nil,
		func(c *Config, v string) error { c.EnabledBuckets = ParseFilter(v); return nil }},
	{"DEFAULT_TIMEZONE", "UTC", "IANA zone journeys schedule in when a contact has no valid one.", nil,
		func(c *Config, v string) error {
			c.DefaultTimezone = v
			_, err := journey.LoadZone(v)
			return err
		}},
	{"DEFAULT_SEND_WINDOW", "", "Default send window of journey scheduling, HH:mm-HH:mm (empty = none).", nil,
		func(c *Config, v string) error {
			if v == "" {
				return nil
			}
			start, end, ok := strings.Cut(v, "-")
			if !ok {
				return errors.New("want HH:mm-HH:mm, e.g. 09:00-17:00")
			}
			w := &journey.SendWindow{Start: strings.TrimSpace(start), End: strings.TrimSpace(end)}
			if _, err := journey.NewWhen(time.Time{}, "UTC", nil).Window(w.Start, w.End).NextLocal("00:00"); err != nil {
				return err
			}
			c.SendWindow = w
			return nil
		}},
	{"ENABLED_LISTS", "*", "Comma-separated list ids to offer, or * for all.", nil,
		func(c *Config, v string) error { c.EnabledLists = ParseFilter(v); return nil }},
	{"RATE_LIMIT_ADMIN_MAX", "100", "/v1/admin requests per RATE_LIMIT_WINDOW_MS per API key (the ADMIN_API_KEY shares one budget).", nil,
		func(c *Config, v string) error { return intIn(&c.RateLimit.AdminMax, v, 1, 1_000_000) }},
	{"RATE_LIMIT_WINDOW_MS", "60000", "Window of the admin and email rate limits; a spent budget refills evenly over it, and a 429's Retry-After is the whole window.", nil,
		func(c *Config, v string) error { return millis(&c.RateLimit.Window, v) }},
	{"EMAIL_RATE_LIMIT_PER_MIN", "30", "POST /v1/emails per RATE_LIMIT_WINDOW_MS (a minute by default) per key (RATE_LIMIT_EMAILS_MAX is read when this is unset).", nil,
		func(c *Config, v string) error { return intIn(&c.RateLimit.EmailsMax, v, 1, 1_000_000) }},
	{"PUBLIC_RATE_LIMIT_PER_MIN", "600", "Requests per minute per client IP to each public route (tracking, unsubscribe, preferences, provider webhooks).", nil,
		func(c *Config, v string) error { return intIn(&c.RateLimit.PublicMax, v, 1, 1_000_000) }},
	{"AUTH_FAILURE_LIMIT_PER_MIN", "60", "Failed authentications per minute per client IP before that IP is refused (429) for the rest of the minute.", nil,
		func(c *Config, v string) error { return intIn(&c.RateLimit.AuthFailuresMax, v, 1, 1_000_000) }},
	{"RATE_LIMIT_DISABLED", "false", "true disables every rate limiter (NODE_ENV=test does too).", nil,
		func(c *Config, v string) error { return boolean(&c.RateLimit.Disabled, v) }},
	{"TRUSTED_PROXIES", "loopback and private networks", "Comma-separated IPs or CIDRs whose X-Forwarded-For names the client (per-IP limits, click records); `none` trusts no header.", nil,
		func(c *Config, v string) error {
			if v == "loopback and private networks" {
				return nil
			}
			c.TrustedProxies = []string{}
			if v == "none" {
				return nil
			}
			for _, p := range csv(v) {
				if net.ParseIP(p) == nil {
					if _, _, err := net.ParseCIDR(p); err != nil {
						return fmt.Errorf("%q is neither an IP nor a CIDR", p)
					}
				}
				c.TrustedProxies = append(c.TrustedProxies, p)
			}
			return nil
		}},
}

// presetSecret is the variable of an inbound preset's secret, kept by its name.
func presetSecret(name, doc string) configVar {
	return configVar{name, "", doc, nil, func(c *Config, v string) error {
		if c.Inbound.Secrets == nil {
			c.Inbound.Secrets = map[string]string{}
		}
		c.Inbound.Secrets[name] = v
		return nil
	}}
}

// ignoredPrefixes are variables of the reference's Hatchet/Redis stack: warned about, not read.
var ignoredVars = []string{"HATCHET_CLIENT_", "REDIS_URL"}

// LoadConfig reads the configuration for a role through lookup (os.LookupEnv in production).
// Every problem is collected; the returned *ConfigError lists them all. Warnings are returned
// separately so the caller can log them once a logger exists.
func LoadConfig(lookup func(string) (string, bool), environ []string, role Role) (*Config, []string, error) {
	c := &Config{}
	var problems, warnings []string
	for _, v := range configVars {
		raw, _ := lookup(v.Name)
		raw = strings.TrimSpace(raw)
		if old, ok := formerNames[v.Name]; ok && raw == "" {
			raw, _ = lookup(old)
			raw = strings.TrimSpace(raw)
		}
		derived := false
		if raw == "" {
			raw, derived = defaultFor(v, lookup)
		}
		if raw == "" {
			continue
		}
		// A default copied from another variable was already judged under that variable's name.
		if err := v.set(c, raw); err != nil && !derived {
			problems = append(problems, fmt.Sprintf("%s: %v (got %q)", v.Name, err, redact(v.Name, raw)))
		}
	}
	if c.Temporal.TLSStrategy == "" {
		c.Temporal.TLSStrategy = defaultTLSStrategy(c.Temporal.Address)
	}
	for _, v := range configVars {
		if v.required == nil || !v.required(c, role) {
			continue
		}
		if raw, _ := lookup(v.Name); strings.TrimSpace(raw) == "" {
			problems = append(problems, fmt.Sprintf("%s: required but not set", v.Name))
		}
	}
	if len(c.AuthSecret) > 0 && len(c.AuthSecret) < 32 {
		warnings = append(warnings, "BETTER_AUTH_SECRET is shorter than 32 characters; use a long random value")
	}
	var ignored []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		for _, p := range ignoredVars {
			if strings.HasPrefix(name, p) {
				ignored = append(ignored, name)
			}
		}
	}
	if len(ignored) > 0 {
		slices.Sort(ignored)
		warnings = append(warnings, fmt.Sprintf("ignored: %s (Go engine uses TEMPORAL_* and no Redis)", strings.Join(ignored, ", ")))
	}
	if len(problems) > 0 {
		return nil, warnings, &ConfigError{Problems: problems}
	}
	return c, warnings, nil
}

// formerNames are variables read under an earlier name when the current one is unset.
var formerNames = map[string]string{
	"EMAIL_SINK_DIR":           "EMAIL_FILE_DIR",
	"EMAIL_RATE_LIMIT_PER_MIN": "RATE_LIMIT_EMAILS_MAX",
}

// defaultFor resolves a variable's default; derived is true when the default is another
// variable's value ("BETTER_AUTH_SECRET"). Prose defaults are resolved after parsing.
func defaultFor(v configVar, lookup func(string) (string, bool)) (value string, derived bool) {
	for _, other := range configVars {
		if other.Name == v.Default { // a default naming another variable takes its value
			if raw, _ := lookup(other.Name); strings.TrimSpace(raw) != "" {
				return strings.TrimSpace(raw), true
			}
			return other.Default, true
		}
	}
	if v.Default == "none for localhost, else tls" {
		return "", false
	}
	return v.Default, false
}

func defaultTLSStrategy(address string) string {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	switch host {
	case "localhost", "127.0.0.1", "::1":
		return "none"
	}
	return "tls"
}

func redact(name, v string) string {
	if strings.Contains(name, "SECRET") || strings.Contains(name, "KEY") || strings.Contains(name, "URL") && strings.Contains(v, "@") {
		return "…"
	}
	return v
}

func oneOf(v string, allowed ...string) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
}

// cronSpec accepts a standard 5-field cron expression.
func cronSpec(dst *string, v string) error {
	if _, err := cron.ParseStandard(v); err != nil {
		return fmt.Errorf("not a 5-field cron expression: %w", err)
	}
	*dst = v
	return nil
}

// millis reads a positive duration in milliseconds.
func millis(dst *time.Duration, v string) error {
	var ms int
	if err := intIn(&ms, v, 1, 365*24*3600*1000); err != nil {
		return err
	}
	*dst = time.Duration(ms) * time.Millisecond
	return nil
}

func intIn(dst *int, v string, lo, hi int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("must be an integer from %d to %d", lo, hi)
	}
	*dst = n
	return nil
}

// boolean is strict: true/1/yes are true, false/0/no are false, anything else is an error.
func boolean(dst *bool, v string) error {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		*dst = true
	case "false", "0", "no":
		*dst = false
	default:
		return errors.New("must be true or false")
	}
	return nil
}

func parseLevel(dst *slog.Level, v string) error {
	switch v {
	case "error":
		*dst = slog.LevelError
	case "warn":
		*dst = slog.LevelWarn
	case "info":
		*dst = slog.LevelInfo
	case "http":
		*dst = LevelHTTP
	case "debug":
		*dst = slog.LevelDebug
	default:
		return oneOf(v, "error", "warn", "info", "http", "debug")
	}
	return nil
}

func absURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return errors.New("must be an absolute URL")
	}
	return nil
}

func dsn(v string) error {
	if strings.HasPrefix(v, "postgres://") || strings.HasPrefix(v, "postgresql://") {
		return absURL(v)
	}
	if strings.Contains(v, "=") { // key=value form
		return nil
	}
	return errors.New("must be a postgres:// URL or a key=value DSN")
}

func smtpURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" {
		return errors.New("must look like smtp://user:pass@host:port or smtps://host:port")
	}
	return nil
}

func address(v string) error {
	if _, err := mail.ParseAddress(v); err != nil {
		return errors.New("must be an email address")
	}
	return nil
}

func hostPort(v string) error {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return errors.New("must be host:port")
	}
	return nil
}

func csv(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
