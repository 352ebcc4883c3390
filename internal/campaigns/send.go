package campaigns

import (
	"cmp"
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/internal/mailer"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
)

// SendSettings shape the worker's sending. Zero values take the defaults.
type SendSettings struct {
	PageSize    int // recipients per page (default 100, the reference's chunk)
	Concurrency int // provider calls in flight per page (default 16)
	// Limiter caps every campaign of this worker together (nil = no cap).
	Limiter *rate.Limiter
	// PauseAfterFailures pauses a campaign after this many failed sends in a row (default 50;
	// negative = never): a provider that is down or refusing should not burn the audience.
	PauseAfterFailures int
	// Budget bounds one send activity; the run calls it again (default 1 min).
	Budget time.Duration
}

func (s SendSettings) pageSize() int { return cmp.Or(s.PageSize, 100) }
func (s SendSettings) budget() time.Duration {
	return cmp.Or(s.Budget, time.Minute)
}
func (s SendSettings) pauseAfter() int {
	if s.PauseAfterFailures == 0 {
		return 50
	}
	return s.PauseAfterFailures
}

// ReasonFailures is the paused reason of a campaign that paused itself.
const ReasonFailures = "consecutive send failures"

// SendPages sends a sending campaign's audience page after page, from its stored resume point,
// until the audience is exhausted, its status changes (pause, cancel), it pauses itself after
// failures in a row, or the budget is spent. Each page's counts and cursor are stored with one
// statement.
//
// A local-time campaign sends one wave per call series: the resume point names its wave, so
// the next wave starts its walk over, with the counts so far; a stored point of a later wave
// (a fresh run walking the waves again) starts from zero, and replays count what was sent.
func (s *Service) SendPages(ctx context.Context, in contract.SendPagesInput) (contract.CampaignProgress, error) {
	id := in.CampaignID
	c, err := store.CampaignByID(ctx, s.DB, id)
	if errors.Is(err, store.ErrNotFound) {
		return contract.CampaignProgress{}, ErrNotFound
	}
	if err != nil {
		return contract.CampaignProgress{}, err
	}
	if c.Status != store.CampaignSending {
		return contract.CampaignProgress{Status: c.Status}, nil
	}
	walk, category := s.resolver(c)
	kind, zones := walk, (*store.ZoneFilter)(nil)
	if in.Wave != nil {
		kind = walk + "@" + strconv.Itoa(in.WaveIndex)
		zones = &store.ZoneFilter{Zones: in.Wave.Zones, Rest: in.Wave.Rest, Planned: in.Planned}
	}
	cursor, counts := "", store.CampaignCounts{}
	switch stored := ptr.Deref(c.ResumeKind); {
	case stored == kind:
		cursor, counts = ptr.Deref(c.ResumeCursor), c.CampaignCounts
	case in.Wave != nil && earlierWave(stored, walk, in.WaveIndex):
		counts = c.CampaignCounts
	} // else: another resolver's cursor (the list changed polarity) or a later wave: from zero
	pace := s.pace(c)
	deadline := s.now().Add(s.Send.budget())
	failures := 0
	// The next page is read and rendered while this one sends (reads only: a page dropped when
	// the campaign stops has written nothing).
	read := func(cursor string) (page store.AudiencePage, prep *mailer.PreparedBroadcast, err error) {
		if page, err = store.AudiencePageOf(ctx, s.DB, walk, c.AudienceID, cursor, s.Send.pageSize(), zones); err != nil {
			return page, nil, err
		}
		b := mailer.Broadcast{Template: c.TemplateKey, Props: c.Props, From: ptr.Deref(c.From), Subject: ptr.Deref(c.Subject),
			Category: category, Concurrency: s.Send.Concurrency, Pace: pace}
		for _, r := range unique(page.Recipients) {
			b.Recipients = append(b.Recipients, mailer.BroadcastRecipient{To: r.Email, UserID: r.UserID,
				IdempotencyKey: "campaign:" + c.ID + ":" + r.Email})
		}
		prep, err = s.Mailer.PrepareBroadcast(ctx, b)
		return page, prep, err
	}
	type readPage struct {
		page store.AudiencePage
		prep *mailer.PreparedBroadcast
		err  error
	}
	page, prep, err := read(cursor)
	for pages := 1; ; pages++ {
		if err != nil {
			return contract.CampaignProgress{}, err
		}
		var ahead chan readPage
		if page.Raw == s.Send.pageSize() {
			ahead = make(chan readPage, 1)
			go func(next string) {
				p, pr, err := read(next)
				ahead <- readPage{p, pr, err}
			}(page.Next)
		}
		results, err := prep.Send(ctx)
		if err != nil {
			if ahead != nil {
				<-ahead
			}
			return contract.CampaignProgress{}, err
		}
		counts.Total += len(results)
		for _, r := range results {
			switch {
			case r.Err != nil:
				counts.Failed++
				failures++
				s.log().Warn("campaign send failed", "campaignId", c.ID, "emailSendId", r.EmailSendID, "error", r.Err)
			case r.Status == mailer.StatusSent:
				counts.Sent++
				failures = 0
			default: // suppressed, unsubscribed, skipped
				counts.Skipped++
			}
		}
		status, err := store.SaveCampaignProgress(ctx, s.DB, c.ID, counts, page.Next, kind)
		var next readPage
		if ahead != nil {
			next = <-ahead // waited for on every way out: no read outlives the activity
		}
		if err != nil {
			return contract.CampaignProgress{}, err
		}
		switch {
		case page.Raw < s.Send.pageSize():
			return contract.CampaignProgress{Done: true, Status: status, Pages: pages}, nil
		case status != store.CampaignSending:
			return contract.CampaignProgress{Status: status, Pages: pages}, nil
		case s.Send.pauseAfter() > 0 && failures >= s.Send.pauseAfter():
			paused, _, err := store.SetCampaignStatus(ctx, s.DB, c.ID, []string{store.CampaignSending}, store.CampaignPaused, ReasonFailures)
			if err != nil {
				return contract.CampaignProgress{}, err
			}
			s.log().Error("campaign paused itself after failed sends in a row; resume it once the provider is fixed",
				"campaignId", c.ID, "failures", failures)
			return contract.CampaignProgress{Status: paused.Status, Pages: pages}, nil
		case !s.now().Before(deadline) || ctx.Err() != nil:
			return contract.CampaignProgress{Status: status, Pages: pages}, nil
		}
		page, prep, err = next.page, next.prep, next.err
	}
}

// earlierWave reports whether a stored resume kind is walk's at a wave before wave.
func earlierWave(stored, walk string, wave int) bool {
	n, err := strconv.Atoi(strings.TrimPrefix(stored, walk+"@"))
	return strings.HasPrefix(stored, walk+"@") && err == nil && n < wave
}

// resolver picks the audience walk and the sends' category: a list campaign's category is the
// list (its unsubscribe link leaves that list); a list no longer registered is opt-out.
func (s *Service) resolver(c store.Campaign) (kind string, category email.Category) {
	if c.AudienceKind == AudienceBucket {
		return store.AudienceBucket, ""
	}
	if l, ok := s.Mailer.Lists().Get(c.AudienceID); ok && !l.DefaultOptIn {
		return store.AudienceOptInList, email.Category(c.AudienceID)
	}
	return store.AudienceOptOut, email.Category(c.AudienceID)
}

// pace waits for the worker's cap and the campaign's own.
func (s *Service) pace(c store.Campaign) func(context.Context) error {
	var own *rate.Limiter
	if c.SendsPerSecond != nil && *c.SendsPerSecond > 0 {
		own = rate.NewLimiter(rate.Limit(*c.SendsPerSecond), 1)
	}
	global := s.Send.Limiter
	if own == nil && global == nil {
		return nil
	}
	return func(ctx context.Context) error {
		if global != nil {
			if err := global.Wait(ctx); err != nil {
				return err
			}
		}
		if own != nil {
			return own.Wait(ctx)
		}
		return nil
	}
}

// unique keeps each address once (two preference rows can share one).
func unique(rs []store.AudienceRecipient) []store.AudienceRecipient {
	seen := make(map[string]bool, len(rs))
	out := rs[:0:0]
	for _, r := range rs {
		if !seen[r.Email] {
			seen[r.Email] = true
			out = append(out, r)
		}
	}
	return out
}
