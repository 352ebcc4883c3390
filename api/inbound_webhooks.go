package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/webhook"
)

// maxInboundBody caps a provider's webhook body (the reference has no cap).
const maxInboundBody = 5 << 20

// inboundPath is the route of every inbound source; POST /v1/webhooks/resend is mounted
// before it and always wins.
const inboundPath = "/v1/webhooks/:sourceId"

// Inbound is what POST /v1/webhooks/{sourceId} serves.
type Inbound struct {
	Sources []*webhook.Source
	// Secret resolves a source's EnvKey at each request ("" = unset).
	Secret func(envKey string) string
}

type inboundIngest interface {
	Ingest(ctx context.Context, ev ingest.Event) (ingest.Result, error)
}

type inboundHandlers struct {
	sources map[string]*webhook.Source
	secret  func(string) string
	ingest  inboundIngest
	db      *pgxpool.Pool
	log     *slog.Logger
	now     func() time.Time
}

func newInboundHandlers(cfg Inbound, svc inboundIngest, db *pgxpool.Pool, log *slog.Logger) *inboundHandlers {
	h := &inboundHandlers{sources: map[string]*webhook.Source{}, secret: cfg.Secret, ingest: svc, db: db, log: log, now: time.Now}
	for _, s := range cfg.Sources {
		h.sources[s.ID] = s
	}
	if h.secret == nil {
		h.secret = func(string) string { return "" }
	}
	return h
}

var errUnknownSource = &HTTPError{Status: http.StatusNotFound, Message: "Unknown webhook source"}

// receive authenticates the exact bytes received, then decodes, transforms and ingests them
// synchronously: a 200 means the event is stored (or was a duplicate, or skipped).
func (h *inboundHandlers) receive(c *gin.Context) error {
	src := h.sources[c.Param("sourceId")]
	if src == nil {
		return errUnknownSource
	}
	body, err := readBody(c, maxInboundBody)
	if err != nil {
		return err
	}
	headers := make(map[string]string, len(c.Request.Header))
	for k, v := range c.Request.Header {
		if len(v) > 0 {
			headers[strings.ToLower(k)] = v[0]
		}
	}
	secret := ""
	if src.Auth.EnvKey != "" {
		secret = h.secret(src.Auth.EnvKey)
	}
	if err := src.Auth.Authenticate(secret, body, headers, h.now()); err != nil {
		return &HTTPError{Status: http.StatusUnauthorized, Message: err.Error()}
	}
	if !json.Valid(body) {
		c.JSON(http.StatusBadRequest, gin.H{"error": "Invalid payload", "details": "Malformed JSON",
			"issues": []Issue{{Path: []string{}, Message: "Malformed JSON", Code: "invalid_json"}}})
		return nil
	}
	var payload any
	if src.Decode != nil {
		payload, err = src.Decode(body)
	} else {
		err = json.Unmarshal(body, &payload)
	}
	if err != nil {
		is := webhook.AsIssues(err)
		c.JSON(http.StatusBadRequest, gin.H{"error": "Invalid payload", "details": is, "issues": issueList(is)})
		return nil
	}
	ev, err := src.Transform(c, payload, webhook.Context{DB: h.db, Logger: h.log.With("source", src.ID), RawBody: body, Headers: headers})
	reason, skipped := webhook.IsSkip(err)
	if err != nil && !skipped {
		return err
	}
	if ev == nil || skipped {
		h.log.Debug("inbound webhook skipped", "source", src.ID, "reason", reason)
		c.JSON(http.StatusOK, gin.H{"ok": true, "skipped": true})
		return nil
	}
	res, err := h.ingest.Ingest(c, ingest.Event{Name: ev.Name, UserID: ev.UserID, Email: ev.UserEmail, AnonymousID: ev.AnonymousID,
		EventProperties: ev.EventProperties, ContactProperties: ev.ContactProperties, IdempotencyKey: ev.IdempotencyKey, OccurredAt: ev.OccurredAt})
	var ve *ingest.ValidationError
	if errors.As(err, &ve) { // the source made an event ingest refuses: retrying cannot help
		c.JSON(http.StatusBadRequest, gin.H{"error": "Invalid payload", "details": ve.Msg,
			"issues": []Issue{{Path: []string{}, Message: ve.Msg, Code: "invalid_event"}}})
		return nil
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"ok": true, "event": ev.Name, "userId": ev.UserID, "exits": res.Exits})
	return nil
}

// issueList renders decode issues in the API's usual issue shape as well.
func issueList(is *webhook.Issues) []Issue {
	out := []Issue{}
	for _, m := range is.FormErrors {
		out = append(out, Issue{Path: []string{}, Message: m, Code: "invalid_payload"})
	}
	for _, f := range slices.Sorted(maps.Keys(is.FieldErrors)) {
		for _, m := range is.FieldErrors[f] {
			out = append(out, Issue{Path: []string{f}, Message: m, Code: "invalid_payload"})
		}
	}
	return out
}
