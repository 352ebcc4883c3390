// Package outbox ties Postgres to Temporal and webhook receivers: whatever must happen after a
// transaction commits (start or signal a workflow, cancel a run, emit an outbound webhook) is
// written as an outbox row inside that transaction, handed to the Dispatcher right after commit,
// and retried with backoff by the same Dispatcher until its handler succeeds. An acknowledged
// write therefore never loses its follow-up, whatever is down at the time.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hogsend/hogsend/internal/store"
)

// Intent is one follow-up to record in a transaction.
type Intent struct {
	Kind string
	// DedupeKey, when set, makes the intent idempotent: a second one with the same key is dropped.
	DedupeKey string
	Payload   any
	// Write, when set, is how Append records the intent: it performs it in the transaction
	// itself (an outbound event's deliveries are a durable queue of their own), where no row
	// is needed. Rows still encodes the row form, which the Kind's handler performs alike.
	Write func(ctx context.Context, tx store.DBTX) error
}

// Rows encodes intents for store.InsertOutbox.
func Rows(intents []Intent) ([]store.OutboxRow, error) {
	rows := make([]store.OutboxRow, len(intents))
	for i, in := range intents {
		if in.Payload == nil && in.Write != nil {
			return nil, fmt.Errorf("a %s intent without a payload has no row form: append it in a transaction", in.Kind)
		}
		body, err := json.Marshal(in.Payload)
		if err != nil {
			return nil, fmt.Errorf("encode %s intent: %w", in.Kind, err)
		}
		rows[i] = store.OutboxRow{Kind: in.Kind, Payload: body}
		if in.DedupeKey != "" {
			key := in.DedupeKey
			rows[i].DedupeKey = &key
		}
	}
	return rows, nil
}

// Append records intents in the caller's transaction and returns the new row ids (of those
// written as rows).
func Append(ctx context.Context, tx store.DBTX, intents []Intent) ([]int64, error) {
	queued := intents[:0:0]
	for _, in := range intents {
		if in.Write == nil {
			queued = append(queued, in)
		} else if err := in.Write(ctx, tx); err != nil {
			return nil, fmt.Errorf("record %s intent: %w", in.Kind, err)
		}
	}
	rows, err := Rows(queued)
	if err != nil {
		return nil, err
	}
	return store.InsertOutbox(ctx, tx, rows)
}

// Handler performs one intent. Returning nil marks it done; an error retries it later, up to
// MaxAttempts; a Permanent error, or the last attempt, dead-letters it.
type Handler func(ctx context.Context, payload json.RawMessage) error

// PermanentError ends an intent that can never succeed (bad payload, unknown target).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the intent is not retried.
func Permanent(err error) error { return &PermanentError{Err: err} }

// DefaultMaxAttempts: at the one-minute backoff ceiling, about eight hours of retries, so an
// outage shorter than that loses nothing; a poison row then moves to the dead-letter queue.
const DefaultMaxAttempts = 500

// Retention is how long a done row, and with it its dedupe key, is kept: a duplicate intent
// (a provider re-delivering a webhook, a retried request) arriving within it is still dropped.
const Retention = 7 * 24 * time.Hour

// Dispatcher performs outbox rows. Several dispatchers (API and worker processes) can run
// against one database: rows are leased, so each is handled by one of them at a time.
type Dispatcher struct {
	DB     store.DBTX
	Logger *slog.Logger
	// Batch is how many rows one claim takes. Defaults to 100.
	Batch int
	// Lease is how long a claimed row is reserved. Defaults to 30s.
	Lease time.Duration
	// Sweep is how often due rows are looked for without a Kick. Defaults to 1s.
	Sweep time.Duration
	// Workers bound concurrent handler calls. Defaults to 32.
	Workers int
	// MaxAttempts is how often an intent is tried before it is dead-lettered. Defaults to
	// DefaultMaxAttempts.
	MaxAttempts int

	// Followers are kicked with the dispatcher: queues of their own that producers fill in
	// the same transactions (the webhook deliverer).
	Followers []Kicker

	mu       sync.RWMutex
	handlers map[string]Handler
	wake     chan struct{}
	once     sync.Once
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.wake = make(chan struct{}, 1)
		if d.Logger == nil {
			d.Logger = slog.Default()
		}
		if d.Batch == 0 {
			d.Batch = 100
		}
		if d.Lease == 0 {
			d.Lease = 30 * time.Second
		}
		if d.Sweep == 0 {
			d.Sweep = time.Second
		}
		if d.Workers == 0 {
			d.Workers = 32
		}
		if d.MaxAttempts == 0 {
			d.MaxAttempts = DefaultMaxAttempts
		}
	})
}

// Handle registers the handler of a kind (at start-up, before Run).
func (d *Dispatcher) Handle(kind string, h Handler) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.handlers == nil {
		d.handlers = map[string]Handler{}
	}
	d.handlers[kind] = h
}

// Kicker is told that outbox rows were committed (the Dispatcher), so it dispatches them now
// rather than at its next sweep.
type Kicker interface{ Kick() }

// Kick asks Run to look for due rows now (called right after a commit that appended some).
func (d *Dispatcher) Kick() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
	for _, f := range d.Followers {
		f.Kick()
	}
}

// Run dispatches until ctx is cancelled: at every Kick and at every Sweep interval. Rows flow
// through a pool of Workers continuously: a slow intent holds one worker, not a whole batch.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	rows := make(chan store.OutboxRow)
	done := make(chan int64, d.Workers)
	var workers sync.WaitGroup
	for range d.Workers {
		workers.Go(func() {
			for r := range rows {
				if d.perform(ctx, r) {
					done <- r.ID
				}
			}
		})
	}
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		d.completeRows(done)
	}()
	defer func() {
		close(rows)
		workers.Wait()
		close(done)
		<-flushed
	}()

	t := time.NewTicker(d.Sweep)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		for {
			// Claim about what the workers can start now, so claimed rows do not sit leased.
			claimed, err := store.ClaimOutbox(ctx, d.DB, d.Workers, d.Lease)
			if err != nil && ctx.Err() == nil {
				d.Logger.Warn("outbox dispatch failed", "error", err)
			}
			for _, r := range claimed {
				select {
				case rows <- r:
				case <-ctx.Done():
					return nil // the lease expires and another dispatcher runs the rest
				}
			}
			if len(claimed) < d.Workers || err != nil {
				break
			}
		}
		if time.Since(lastPrune) > time.Hour {
			if _, err := store.PruneOutbox(ctx, d.DB, Retention); err == nil {
				lastPrune = time.Now()
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-t.C:
		}
	}
}

// completeRows marks finished rows done in small batches until done is closed.
func (d *Dispatcher) completeRows(done <-chan int64) {
	var ids []int64
	flush := func() {
		if len(ids) == 0 {
			return
		}
		if err := store.CompleteOutbox(context.Background(), d.DB, ids); err != nil {
			// The leases expire and the rows run again: handlers are idempotent.
			d.Logger.Warn("could not mark outbox rows done", "error", err)
		}
		ids = ids[:0]
	}
	for {
		select {
		case id, ok := <-done:
			if !ok {
				flush()
				return
			}
			ids = append(ids, id)
			if len(ids) >= 100 {
				flush()
			}
		default:
			flush() // nothing more ready right now
			id, ok := <-done
			if !ok {
				return
			}
			ids = append(ids, id)
		}
	}
}

// DispatchOnce claims one batch of due rows and performs them; it returns how many it claimed.
func (d *Dispatcher) DispatchOnce(ctx context.Context) (int, error) {
	d.init()
	rows, err := store.ClaimOutbox(ctx, d.DB, d.Batch, d.Lease)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done []int64
		sem  = make(chan struct{}, d.Workers)
	)
	for _, r := range rows {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if d.perform(ctx, r) {
				mu.Lock()
				done = append(done, r.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(done) > 0 {
		if err := store.CompleteOutbox(context.WithoutCancel(ctx), d.DB, done); err != nil {
			// The lease expires and the rows run again: handlers are idempotent.
			return len(rows), fmt.Errorf("mark outbox rows done: %w", err)
		}
	}
	return len(rows), nil
}

// perform runs one row's handler; true means the row is finished.
func (d *Dispatcher) perform(ctx context.Context, r store.OutboxRow) bool {
	d.mu.RLock()
	h := d.handlers[r.Kind]
	d.mu.RUnlock()
	var err error
	if h == nil {
		// Another process may handle this kind; look again later.
		err = fmt.Errorf("no handler for %q in this process", r.Kind)
	} else {
		err = d.call(ctx, h, r.Payload)
	}
	if err == nil {
		return true
	}
	var perm *PermanentError
	if errors.As(err, &perm) || r.Attempts >= d.MaxAttempts {
		d.Logger.Error("outbox intent dead-lettered", "id", r.ID, "kind", r.Kind, "attempts", r.Attempts, "error", err)
		if derr := store.DeadLetterOutbox(context.WithoutCancel(ctx), d.DB, r.ID, err.Error()); derr != nil {
			d.Logger.Warn("could not dead-letter outbox row; it runs again", "id", r.ID, "error", derr)
		}
		return false // marked done by DeadLetterOutbox itself
	}
	delay := Backoff(r.Attempts)
	if rerr := store.RetryOutbox(context.WithoutCancel(ctx), d.DB, r.ID, err.Error(), delay); rerr != nil {
		d.Logger.Warn("could not record outbox retry", "id", r.ID, "error", rerr)
	}
	if r.Attempts == 1 || r.Attempts%10 == 0 {
		d.Logger.Warn("outbox intent failed; will retry", "id", r.ID, "kind", r.Kind, "attempt", r.Attempts, "retryIn", delay, "error", err)
	}
	return false
}

// call runs a handler under half the lease, turning a panic into a retryable error.
func (d *Dispatcher) call(ctx context.Context, h Handler, payload []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	hctx, cancel := context.WithTimeout(ctx, d.Lease/2)
	defer cancel()
	return h(hctx, payload)
}

// Backoff is the wait before attempt n+1: 1s doubling to at most 1 min, with ±20 % jitter.
func Backoff(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 6)
	d = min(d, time.Minute)
	jitter := time.Duration(float64(d) * (rand.Float64()*0.4 - 0.2))
	return d + jitter
}
