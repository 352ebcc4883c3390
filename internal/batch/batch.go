// Package batch turns concurrent calls of one operation into batches: a call joins whatever
// others are waiting while a batch is in flight, so under load one statement and one commit
// (one WAL flush) serve many callers, and an idle caller waits for nobody. Ingest's group
// commit and the send pipeline's coalesced writes both run on it.
package batch

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Coalescer batches calls of Run. The zero value plus Run is ready to use.
type Coalescer[In, Out any] struct {
	// Run handles a batch and returns one result per item, in order. An error fails the batch:
	// every item is then run alone, so one bad item fails only itself.
	Run func(ctx context.Context, items []In) ([]Out, error)
	// Alone runs one item by itself: after Close, and for the items a failed batch or RetryAlone
	// sends back. Defaults to Run with a batch of one.
	Alone func(ctx context.Context, item In) (Out, error)
	// RetryAlone reports a result that says nothing about its item (a deadlock victim, say):
	// that item is run again alone after its batch. Defaults to never.
	RetryAlone func(out Out) bool

	// MaxBatch bounds a batch. Defaults to 128.
	MaxBatch int
	// MaxWait is how long the first call of a batch waits for companions. Defaults to 0: a
	// batch takes what is queued when a worker is free.
	MaxWait time.Duration
	// Lanes is how many independent queues there are, and Lane picks an item's queue (items of
	// one lane never share a batch with another's, so a lane can keep one key's writes
	// together). Defaults to one lane.
	Lanes int
	Lane  func(item In) uint32
	// Workers bounds the batches in flight per lane. Defaults to 2.
	Workers int
	// Timeout bounds one batch (and each item run alone), whatever its callers' deadlines.
	// Defaults to 30 s.
	Timeout time.Duration

	batches atomic.Int64
	queued  atomic.Int64

	once   sync.Once
	mu     sync.RWMutex // guards closed against enqueueing
	closed bool
	lanes  []chan *call[In, Out]
	wg     sync.WaitGroup
}

type call[In, Out any] struct {
	ctx   context.Context
	in    In
	out   Out
	err   error
	done  chan struct{}
	state atomic.Int32 // queued, taken by a batch, or abandoned by its caller
}

const (
	queued int32 = iota
	taken
	abandoned
)

// ErrOutcomeUnknown is returned to a caller that gave up while its batch was running: the batch
// may still commit its item.
var ErrOutcomeUnknown = errors.New("batch: gave up while the write was in flight; it may have taken effect")

func (c *Coalescer[In, Out]) start() {
	c.once.Do(func() {
		if c.MaxBatch <= 0 {
			c.MaxBatch = 128
		}
		if c.Workers <= 0 {
			c.Workers = 2
		}
		if c.Lanes <= 0 {
			c.Lanes = 1
		}
		if c.Timeout <= 0 {
			c.Timeout = 30 * time.Second
		}
		c.lanes = make([]chan *call[In, Out], c.Lanes)
		for i := range c.lanes {
			q := make(chan *call[In, Out], c.MaxBatch*c.Workers)
			c.lanes[i] = q
			c.wg.Go(func() { c.loop(q) })
		}
	})
}

// Do runs in as part of a batch and returns its own result. A caller whose ctx ends first gets
// an error: ctx's own when its item had not been taken by a batch yet (it never runs), one
// wrapping ErrOutcomeUnknown when its batch was already running.
func (c *Coalescer[In, Out]) Do(ctx context.Context, in In) (Out, error) {
	c.start()
	var zero Out
	cl := &call[In, Out]{ctx: ctx, in: in, done: make(chan struct{})}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return c.alone(ctx, in)
	}
	lane := c.lanes[0]
	if c.Lane != nil {
		lane = c.lanes[c.Lane(in)%uint32(len(c.lanes))]
	}
	c.queued.Add(1)
	select {
	case lane <- cl:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.queued.Add(-1)
		c.mu.RUnlock()
		return zero, ctx.Err()
	}
	select {
	case <-cl.done:
		return cl.out, cl.err
	case <-ctx.Done():
		if cl.state.CompareAndSwap(queued, abandoned) {
			return zero, ctx.Err()
		}
		select {
		case <-cl.done: // settled meanwhile
			return cl.out, cl.err
		default:
			return zero, fmt.Errorf("%w: %w", ErrOutcomeUnknown, ctx.Err())
		}
	}
}

// Close ends batching once the queued calls are done, and waits for them; later calls run
// alone.
func (c *Coalescer[In, Out]) Close() {
	c.start()
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		for _, q := range c.lanes {
			close(q)
		}
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// Batches is how many batches Run completed without error (a measure of coalescing).
func (c *Coalescer[In, Out]) Batches() int64 { return c.batches.Load() }

// Queued is how many calls wait for a batch to take them.
func (c *Coalescer[In, Out]) Queued() int { return int(c.queued.Load()) }

func (c *Coalescer[In, Out]) loop(q chan *call[In, Out]) {
	slots := make(chan struct{}, c.Workers)
	var inFlight sync.WaitGroup
	defer inFlight.Wait()
	for first := range q {
		slots <- struct{}{} // wait for a free worker; calls pile up meanwhile
		batch := c.gather(q, first)
		c.queued.Add(-int64(len(batch)))
		batch = takeLive(batch)
		if len(batch) == 0 {
			<-slots
			continue
		}
		inFlight.Go(func() {
			defer func() { <-slots }()
			c.run(batch)
		})
	}
}

// gather adds to first what is queued, waiting up to MaxWait for more.
func (c *Coalescer[In, Out]) gather(q chan *call[In, Out], first *call[In, Out]) []*call[In, Out] {
	batch := []*call[In, Out]{first}
	var deadline <-chan time.Time
	if c.MaxWait > 0 {
		t := time.NewTimer(c.MaxWait)
		defer t.Stop()
		deadline = t.C
	}
	for len(batch) < c.MaxBatch {
		var cl *call[In, Out]
		ok := true
		if deadline == nil {
			select {
			case cl, ok = <-q:
			default:
				return batch
			}
		} else {
			select {
			case cl, ok = <-q:
			case <-deadline:
				return batch
			}
		}
		if !ok { // closed: Close drains what was queued
			return batch
		}
		batch = append(batch, cl)
	}
	return batch
}

// takeLive marks a gathered batch's calls taken and drops those their callers abandoned.
func takeLive[In, Out any](batch []*call[In, Out]) []*call[In, Out] {
	live := batch[:0]
	for _, cl := range batch {
		if cl.state.CompareAndSwap(queued, taken) {
			live = append(live, cl)
		}
	}
	return live
}

func (c *Coalescer[In, Out]) alone(ctx context.Context, in In) (Out, error) {
	c.start()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	if c.Alone != nil {
		return c.Alone(ctx, in)
	}
	outs, err := c.Run(ctx, []In{in})
	if err == nil && len(outs) != 1 {
		err = errBatchShape
	}
	if err != nil {
		var zero Out
		return zero, err
	}
	return outs[0], nil
}

// run settles one batch; a panic in Run fails the batch's calls instead of the process.
func (c *Coalescer[In, Out]) run(batch []*call[In, Out]) {
	defer func() {
		if r := recover(); r != nil {
			err := fmt.Errorf("batch panicked: %v", r)
			for _, cl := range batch {
				select {
				case <-cl.done:
				default:
					var zero Out
					cl.out, cl.err = zero, err
					close(cl.done)
				}
			}
		}
	}()
	items := make([]In, len(batch))
	for i, cl := range batch {
		items[i] = cl.in
	}
	// The batch outlives any one caller's cancellation (bounded by Timeout) but keeps the first
	// caller's values.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), c.Timeout)
	outs, err := c.Run(ctx, items)
	cancel()
	if err == nil && len(outs) != len(batch) {
		err = errBatchShape
	}
	if err == nil {
		c.batches.Add(1)
	}
	var retry []*call[In, Out]
	for i, cl := range batch {
		switch {
		case err != nil && len(batch) > 1, err == nil && c.RetryAlone != nil && c.RetryAlone(outs[i]):
			retry = append(retry, cl)
			continue
		case err != nil:
			cl.err = err
		default:
			cl.out = outs[i]
		}
		close(cl.done)
	}
	for _, cl := range retry {
		cl.out, cl.err = c.alone(context.WithoutCancel(cl.ctx), cl.in)
		close(cl.done)
	}
}

var errBatchShape = errors.New("batch: Run returned the wrong number of results")
