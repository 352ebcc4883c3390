// Package webhook defines inbound webhook sources: a provider's POST to /v1/webhooks/{id} is
// authenticated over its exact bytes, decoded, and turned into one ingest event or skipped.
// The engine ships presets for Clerk, Supabase, Stripe and Segment; an application adds its
// own sources in hogsend.Options.
package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Source is one inbound webhook: the route segment it answers on, how a request proves it
// came from the provider, and how its payload becomes an event.
type Source struct {
	ID, Name, Description string
	Auth                  Auth
	// Decode turns the raw body into the payload Transform receives; an error is a 400
	// (an *Issues names the fields). Nil: the payload is the body decoded into `any`.
	Decode func(raw []byte) (any, error)
	// Transform maps the payload to an event. A nil event, or an error made by Skip, answers
	// 200 with skipped: true; any other error is a 500 so the provider retries.
	Transform func(ctx context.Context, payload any, sc Context) (*Event, error)
}

// Context is what a transform may use besides the payload.
type Context struct {
	DB      *pgxpool.Pool
	Logger  *slog.Logger
	RawBody []byte
	Headers map[string]string // lower-cased names, first value
}

// Event is what a source ingests. EventProperties go to the stored event (and journey
// matching), ContactProperties merge onto the contact; the two are never mixed.
type Event struct {
	Name              string
	UserID            string
	UserEmail         string // "" = none
	AnonymousID       string
	EventProperties   map[string]any
	ContactProperties map[string]any
	// IdempotencyKey, when set, makes a redelivery a no-op (200 with no exits).
	IdempotencyKey string
	OccurredAt     *time.Time // nil = now
}

// Skipped is a payload the source deliberately ignores.
type Skipped struct{ Reason string }

func (s *Skipped) Error() string { return "skipped: " + s.Reason }

// Skip is returned by a transform for a payload it ignores; the reason is logged.
func Skip(format string, args ...any) error { return &Skipped{Reason: fmt.Sprintf(format, args...)} }

// IsSkip reports whether err says "skip this payload".
func IsSkip(err error) (reason string, ok bool) {
	var s *Skipped
	if errors.As(err, &s) {
		return s.Reason, true
	}
	return "", false
}

// Define builds a source whose payload is T: the body is unmarshalled into a new T (a type
// mismatch is a 400 naming the field), then checked by T's Validate when *T has one.
func Define[T any](s Source, transform func(ctx context.Context, p *T, sc Context) (*Event, error)) *Source {
	s.Decode = func(raw []byte) (any, error) { return Decode[T](raw) }
	s.Transform = func(ctx context.Context, payload any, sc Context) (*Event, error) {
		p, ok := payload.(*T)
		if !ok {
			return nil, fmt.Errorf("webhook source %s: payload is %T, want *%T", s.ID, payload, *new(T))
		}
		return transform(ctx, p, sc)
	}
	return &s
}

// routeID is what a source id may be: one path segment.
var routeID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// Check reports a source that cannot work, at start-up rather than at its first request.
func (s *Source) Check() error {
	switch {
	case s == nil:
		return errors.New("webhook source is nil")
	case !routeID.MatchString(s.ID):
		return fmt.Errorf("webhook source id %q: want letters, digits, '.', '_' or '-' (one path segment)", s.ID)
	case s.ID == ReservedID:
		return fmt.Errorf("webhook source id %q is the built-in mail-provider route", s.ID)
	case s.Transform == nil:
		return fmt.Errorf("webhook source %s: Transform is required", s.ID)
	}
	return s.Auth.check(s.ID)
}

// ReservedID is the mail provider's own webhook route, which no source can take.
const ReservedID = "resend"
