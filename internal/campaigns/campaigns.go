// Package campaigns is broadcasts: one template to every recipient of a list or a bucket,
// durably, at most once per recipient. The API side creates and controls campaigns; the
// worker side (the send workflow's activities) begins them, sends their audience page after
// page through the mailer's broadcast path, and completes or reaps them.
//
// The campaigns row is the source of truth for status and progress: the control routes change
// status with a compare-and-set and then signal the run, which reads the row again; every page
// writes its absolute counts and resume cursor in one statement, so a fresh run continues after
// the last committed page and never counts twice.
package campaigns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/bucket"
	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// Audience kinds of a campaign (campaigns.audience_kind).
const (
	AudienceList   = "list"
	AudienceBucket = "bucket"
)

// Service creates, controls and runs campaigns.
type Service struct {
	DB      store.DBTX
	Mailer  *mailer.Mailer // templates, lists and the broadcast path
	Buckets *bucket.Registry
	Outbox  outbox.Kicker // nil: intents wait for the dispatcher's sweep
	Send    SendSettings
	// DefaultTimezone is the zone of contacts without a valid one (local-time campaigns).
	DefaultTimezone string
	Logger          *slog.Logger
	Now             func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Service) kick() {
	if s.Outbox != nil {
		s.Outbox.Kick()
	}
}

// Errors the API maps to responses.
var (
	ErrNotFound = errors.New("campaign not found")
	// ErrAudience: not exactly one of list and bucket.
	ErrAudience = errors.New("Exactly one of `list` or `bucket` is required")
	// ErrLocalTime: a localTime that is no HH:MM.
	ErrLocalTime = errors.New("localTime must be HH:MM (00:00 to 23:59)")
)

// UnknownError names a template, list or bucket the registries do not hold.
type UnknownError struct{ What, ID string }

func (e *UnknownError) Error() string { return "Unknown " + e.What + ": " + e.ID }

// StateError is a control a campaign's status does not allow.
type StateError struct{ Status string }

func (e *StateError) Error() string {
	switch e.Status {
	case store.CampaignSent, store.CampaignFailed, store.CampaignCancelled:
		return "Campaign is already " + e.Status
	}
	return "Campaign is " + e.Status
}

// Request is a campaign to create.
type Request struct {
	Name, List, Bucket, Template  string
	Props                         map[string]any
	From, Subject, IdempotencyKey *string
	ScheduledAt                   *time.Time // in the future: status scheduled until then
	// LocalTime (HH:MM) delivers to each recipient when their own clock shows it, at its next
	// occurrence from ScheduledAt (or now) on.
	LocalTime      *string
	SendsPerSecond *int // this campaign's pace (nil = the worker's)
}

// Create validates and stores a campaign and, in the same transaction, the intent to start its
// run. With an idempotency key that names an existing campaign, that campaign is returned and
// its run (re)started: a running or sent one is unaffected, a given-up one is revived.
func (s *Service) Create(ctx context.Context, r Request) (store.Campaign, error) {
	if (r.List == "") == (r.Bucket == "") {
		return store.Campaign{}, ErrAudience
	}
	if _, ok := s.Mailer.Templates().Get(r.Template); !ok {
		return store.Campaign{}, &UnknownError{"template", r.Template}
	}
	kind, id := AudienceList, r.List
	if r.Bucket != "" {
		kind, id = AudienceBucket, r.Bucket
		if _, ok := s.Buckets.Get(id); !ok {
			return store.Campaign{}, &UnknownError{"bucket", id}
		}
	} else if _, ok := s.Mailer.Lists().Get(id); !ok {
		return store.Campaign{}, &UnknownError{"list", id}
	}
	if r.LocalTime != nil {
		if _, err := journey.NewWhen(s.now(), "UTC", nil).NextLocal(*r.LocalTime); err != nil {
			return store.Campaign{}, fmt.Errorf("%w: %v", ErrLocalTime, err)
		}
	}
	name := r.Name
	if name == "" {
		name = "Campaign to " + kind + " " + id
	}
	if r.ScheduledAt != nil && !r.ScheduledAt.After(s.now()) && r.LocalTime == nil {
		r.ScheduledAt = nil // a time already passed is now
	}
	var c store.Campaign
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		var created bool
		var err error
		c, created, err = store.InsertCampaign(ctx, tx, store.NewCampaign{Name: name, AudienceKind: kind, AudienceID: id,
			TemplateKey: r.Template, Props: r.Props, From: r.From, Subject: r.Subject, IdempotencyKey: r.IdempotencyKey,
			ScheduledAt: r.ScheduledAt, LocalTime: r.LocalTime, SendsPerSecond: r.SendsPerSecond})
		if err != nil {
			return err
		}
		start, err := startIntent(c.ID, created)
		if err != nil {
			return err
		}
		_, err = outbox.Append(ctx, tx, []outbox.Intent{start})
		return err
	})
	if err == nil {
		s.kick()
	}
	return c, err
}

// startIntent starts a campaign's run. The first start of a campaign is deduplicated; a
// re-drive is not (a start that finds the run open is a no-op).
func startIntent(campaignID string, first bool) (outbox.Intent, error) {
	arg, err := json.Marshal(contract.CampaignInput{CampaignID: campaignID})
	if err != nil {
		return outbox.Intent{}, err
	}
	in := outbox.Start(outbox.StartWorkflow{WorkflowID: contract.CampaignWorkflowID(campaignID),
		WorkflowType: contract.SendCampaignWorkflow, Args: []json.RawMessage{arg}})
	if !first {
		in.DedupeKey = ""
	}
	return in, nil
}

// controlIntent tells a campaign's run to read its status again.
func controlIntent(campaignID string) outbox.Intent {
	return outbox.Signal(outbox.SignalWorkflow{WorkflowID: contract.CampaignWorkflowID(campaignID), Signal: contract.CampaignControlSignal},
		"campaign-control:"+campaignID+":"+uuid.NewString())
}

// Get reads a campaign; an id that is no uuid is simply not found.
func (s *Service) Get(ctx context.Context, id string) (store.Campaign, error) {
	if uuid.Validate(id) != nil {
		return store.Campaign{}, ErrNotFound
	}
	c, err := store.CampaignByID(ctx, s.DB, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, ErrNotFound
	}
	return c, err
}

// List pages campaigns, newest first.
func (s *Service) List(ctx context.Context, status string, limit, offset int) ([]store.Campaign, int, error) {
	return store.ListCampaigns(ctx, s.DB, status, limit, offset)
}

// Control transitions.
var (
	pausable    = []string{store.CampaignQueued, store.CampaignSending}
	resumable   = []string{store.CampaignPaused}
	cancellable = []string{store.CampaignQueued, store.CampaignScheduled, store.CampaignSending, store.CampaignPaused}
)

// Pause stops a queued or sending campaign after its page in flight; Resume sends it on from
// there; Cancel ends a campaign that has not finished (a scheduled one never starts).
func (s *Service) Pause(ctx context.Context, id string) (store.Campaign, error) {
	return s.control(ctx, id, pausable, store.CampaignPaused, "paused by request")
}

// Resume: see Pause.
func (s *Service) Resume(ctx context.Context, id string) (store.Campaign, error) {
	return s.control(ctx, id, resumable, store.CampaignSending, "")
}

// Cancel: see Pause.
func (s *Service) Cancel(ctx context.Context, id string) (store.Campaign, error) {
	return s.control(ctx, id, cancellable, store.CampaignCancelled, "")
}

func (s *Service) control(ctx context.Context, id string, from []string, to, reason string) (store.Campaign, error) {
	if uuid.Validate(id) != nil {
		return store.Campaign{}, ErrNotFound
	}
	var c store.Campaign
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		var ok bool
		var err error
		c, ok, err = store.SetCampaignStatus(ctx, tx, id, from, to, reason)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if !ok {
			return &StateError{Status: c.Status}
		}
		_, err = outbox.Append(ctx, tx, []outbox.Intent{controlIntent(id)})
		return err
	})
	if err == nil {
		s.kick()
	}
	return c, err
}

// Begin is a run's look at its campaign: it starts sending a queued one (a scheduled one once
// its time has come, as of the run's clock; a failed one when a fresh run revives it).
func (s *Service) Begin(ctx context.Context, in contract.BeginCampaignInput) (contract.CampaignState, error) {
	c, err := store.BeginCampaign(ctx, s.DB, in.CampaignID, in.AsOf, in.Revive)
	if errors.Is(err, store.ErrNotFound) {
		return contract.CampaignState{}, fmt.Errorf("%w: %s", ErrNotFound, in.CampaignID)
	}
	return contract.CampaignState{Status: c.Status, ScheduledAt: c.ScheduledAt, LocalTime: ptr.Deref(c.LocalTime)}, err
}

// PlanWaves splits a local-time campaign into delivery waves: each zone the contacts use (an
// invalid or missing one counts as the default zone) reaches the local time at its next
// occurrence from the campaign's start (scheduledAt, else asOf) on, DST-safe; zones reaching it
// at the same instant share a wave. The last wave also takes zones that appear later.
func (s *Service) PlanWaves(ctx context.Context, in contract.PlanWavesInput) ([]contract.CampaignWave, error) {
	c, err := store.CampaignByID(ctx, s.DB, in.CampaignID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, in.CampaignID)
	}
	if err != nil {
		return nil, err
	}
	start := in.AsOf
	if c.ScheduledAt != nil && c.ScheduledAt.After(start) {
		start = *c.ScheduledAt
	}
	zones, err := store.AudienceZones(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	// One key per instant, whatever zone computed it; with nobody yet, one wave in the default
	// zone for whoever appears.
	byInstant := map[time.Time][]string{}
	if len(zones) == 0 {
		zones = []string{""}
	}
	for _, z := range zones {
		at, err := journey.NewWhen(start, journey.FirstValidZone(z, s.DefaultTimezone), nil).NextLocal(ptr.Deref(c.LocalTime))
		if err != nil {
			return nil, err
		}
		byInstant[at.UTC()] = append(byInstant[at.UTC()], z)
	}
	waves := make([]contract.CampaignWave, 0, len(byInstant))
	for at, zs := range byInstant {
		waves = append(waves, contract.CampaignWave{At: at, Zones: zs})
	}
	slices.SortFunc(waves, func(a, b contract.CampaignWave) int { return a.At.Compare(b.At) })
	waves[len(waves)-1].Rest = true
	return waves, nil
}

// Complete marks a campaign sent with the counts its pages stored.
func (s *Service) Complete(ctx context.Context, id string) error {
	c, err := store.CampaignByID(ctx, s.DB, id)
	if err != nil {
		return err
	}
	if _, err := store.CompleteCampaign(ctx, s.DB, id, c.CampaignCounts); err != nil {
		return err
	}
	s.log().Info("campaign sent", "campaignId", id, "total", c.Total, "sent", c.Sent, "skipped", c.Skipped, "failed", c.Failed)
	return nil
}

// Reaper windows (spec: CAMPAIGN_STALE_AFTER_MS, CAMPAIGN_GIVE_UP_AFTER_MS).
type ReapSettings struct {
	StaleAfter, GiveUpAfter time.Duration
}

// Reap gives up queued or sending campaigns that made no progress for GiveUpAfter (their open
// run is told, and ends) and re-drives those stale for StaleAfter (a start intent each: a run
// still open makes it a no-op). Paused and scheduled campaigns wait on purpose.
func (s *Service) Reap(ctx context.Context, w ReapSettings) (contract.ReapResult, error) {
	var res contract.ReapResult
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		failed, err := store.GiveUpCampaigns(ctx, tx, w.GiveUpAfter)
		if err != nil {
			return err
		}
		stale, err := store.StaleCampaigns(ctx, tx, w.StaleAfter)
		if err != nil {
			return err
		}
		var intents []outbox.Intent
		for _, id := range failed {
			intents = append(intents, controlIntent(id))
		}
		for _, id := range stale {
			in, err := startIntent(id, false)
			if err != nil {
				return err
			}
			intents = append(intents, in)
		}
		res = contract.ReapResult{Failed: len(failed), Redriven: len(stale)}
		_, err = outbox.Append(ctx, tx, intents)
		return err
	})
	if err == nil && res != (contract.ReapResult{}) {
		s.log().Warn("campaign reaper acted", "failed", res.Failed, "redriven", res.Redriven)
		s.kick()
	}
	return res, err
}
