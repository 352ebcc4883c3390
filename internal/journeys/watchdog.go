package journeys

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hogsend/hogsend/internal/store"
)

// StalledAfter is how long an enrolment may wait for its run before the watchdog acts.
const StalledAfter = time.Minute

// startKeyPrefix prefixes a start intent's dedupe key; the state id follows.
const startKeyPrefix = KindStart + ":"

// Watchdog makes sure no enrolment silently stalls: a live state that no run has claimed
// after StalledAfter has its start intent dispatched again (the start handler is idempotent),
// and one that can never start is failed with the reason.
type Watchdog struct {
	DB     store.DBTX
	Logger *slog.Logger
	// Defined reports whether this engine defines a journey (its workflow is registered).
	Defined func(journeyID string) bool
	// Batch bounds one sweep. Defaults to 500.
	Batch int
}

// SweepResult counts what one sweep did.
type SweepResult struct {
	Redispatched, Failed int
}

// Sweep handles one batch of stalled enrolments.
func (w *Watchdog) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	batch := w.Batch
	if batch == 0 {
		batch = 500
	}
	stalled, err := store.StalledStarts(ctx, w.DB, startKeyPrefix, StalledAfter, batch)
	if err != nil {
		return res, fmt.Errorf("find stalled enrolments: %w", err)
	}
	for _, s := range stalled {
		reason := ""
		switch {
		case !w.Defined(s.JourneyID):
			reason = fmt.Sprintf("could not start: journey %q is not defined in this engine", s.JourneyID)
		case s.Intent == store.IntentMissing:
			reason = "could not start: its start intent is gone"
		case s.Intent == store.IntentDeadLettered:
			reason = "could not start: " + s.LastError
		case s.Intent == store.IntentDispatched:
			ok, err := store.RedispatchOutbox(ctx, w.DB, startKeyPrefix+s.StateID)
			if err != nil {
				return res, fmt.Errorf("re-dispatch the start of %s: %w", s.StateID, err)
			}
			if ok {
				res.Redispatched++
			}
		}
		// IntentPending: the outbox is still retrying it (Temporal down, say); nothing to do.
		if reason != "" {
			ok, err := store.FailJourney(ctx, w.DB, s.StateID, reason)
			if err != nil {
				return res, fmt.Errorf("fail stalled enrolment %s: %w", s.StateID, err)
			}
			if ok {
				res.Failed++
			}
		}
	}
	if res != (SweepResult{}) {
		w.logger().Warn("journey watchdog acted on stalled enrolments", "redispatched", res.Redispatched, "failed", res.Failed)
	}
	return res, nil
}

func (w *Watchdog) logger() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.Default()
}
