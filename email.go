package hogsend

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/email/resend"
	"github.com/hogsend/hogsend/email/sink"
	"github.com/hogsend/hogsend/email/smtp"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/internal/store"
)

// EmailOptions tune sending beyond what the environment configures.
type EmailOptions struct {
	// Provider replaces the provider EMAIL_PROVIDER selects.
	Provider email.Provider
	// FrequencyCap limits sends per recipient; nil = no cap.
	FrequencyCap *email.FrequencyCap
	// BounceThreshold is the bounce count that suppresses an address (default 3);
	// SuppressOnHardBounce suppresses on the first permanent bounce.
	BounceThreshold      int
	SuppressOnHardBounce bool
	// WebhookHandlers run after the engine applied a provider event of their type (e.g.
	// "email.bounced"); an error answers 500 so the provider delivers the event again.
	WebhookHandlers map[string]func(context.Context, email.ProviderEvent) error
}

// newProvider builds the provider EMAIL_PROVIDER names.
func newProvider(cfg *Config, logger *slog.Logger) (email.Provider, error) {
	switch cfg.Email.Provider {
	case "smtp":
		p, err := smtp.New(cfg.Email.SMTPURL)
		if err != nil {
			return nil, err
		}
		p.MaxIdle = 128 // one session per concurrent send stays open
		return p, nil
	case "sink":
		return &sink.Provider{Dir: cfg.Email.SinkDir, Logger: logger}, nil
	case "resend", "":
		return &resend.Provider{APIKey: cfg.Email.ResendAPIKey}, nil
	}
	return nil, fmt.Errorf("unknown EMAIL_PROVIDER %q", cfg.Email.Provider)
}

// newMailers builds the send pipeline twice over one provider: the API's retries provider
// failures in-process; the worker's leaves retries to Temporal.
// The provider built from the environment is the engine's to close (SMTP sessions); one passed in
// Options is the application's.
func newMailers(cfg *Config, opts *Options, svc *ingest.Service, db store.DBTX, logger *slog.Logger) (api, worker *mailer.Mailer, closeProvider func(), err error) {
	closeProvider = func() {}
	provider := opts.Email.Provider
	if provider == nil {
		if provider, err = newProvider(cfg, logger); err != nil {
			return nil, nil, nil, err
		}
		if c, ok := provider.(interface{ Close() }); ok {
			closeProvider = c.Close
		}
	}
	lists, err := email.NewLists(cfg.EnabledLists.Allows, opts.Lists...)
	if err != nil {
		return nil, nil, nil, err
	}
	secret := cfg.TokenSecret
	if secret == "" {
		secret = cfg.AuthSecret
	}
	mc := mailer.Config{
		DB: db, Templates: opts.Templates, Lists: lists, Provider: provider, From: cfg.Email.From,
		PublicURL: cfg.PublicURL, Tokens: mailer.Tokens{Secret: []byte(secret)}, Cap: opts.Email.FrequencyCap,
		BounceThreshold: opts.Email.BounceThreshold, SuppressOnHardBounce: opts.Email.SuppressOnHardBounce,
		WebhookHandlers: opts.Email.WebhookHandlers,
		Events: func(ctx context.Context, ev mailer.EngineEvent) error {
			_, err := svc.Ingest(ctx, ingest.Event{Name: ev.Name, UserID: ev.UserID, Email: ev.Email, EventProperties: ev.Props,
				IdempotencyKey: ev.IdempotencyKey, OccurredAt: &ev.OccurredAt})
			return err
		},
		Kick: svc.Kick, Logger: logger,
	}
	worker = mailer.New(mc)
	mc.Provider = email.Retrying{Provider: provider}
	return mailer.New(mc), worker, closeProvider, nil
}
