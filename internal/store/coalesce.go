package store

import (
	"context"
	"sync"
)

// Coalescer turns concurrent calls of one write into batches: a call joins whatever others are
// waiting while a batch is in flight, so under load one statement and one commit (one WAL flush)
// serve many callers, and an idle caller waits for nobody. Run must return one result per item,
// in order; when it fails, every item is retried alone so one bad item fails only itself.
type Coalescer[In, Out any] struct {
	Run func(ctx context.Context, items []In) ([]Out, error)
	// MaxBatch bounds a batch (default 128); Workers bounds the batches in flight (default 2).
	MaxBatch, Workers int

	once   sync.Once
	mu     sync.RWMutex // guards closed against enqueueing
	closed bool
	queue  chan *coalesced[In, Out]
	slots  chan struct{}
}

type coalesced[In, Out any] struct {
	ctx  context.Context
	in   In
	out  Out
	err  error
	done chan struct{}
}

func (c *Coalescer[In, Out]) start() {
	c.once.Do(func() {
		if c.MaxBatch <= 0 {
			c.MaxBatch = 128
		}
		if c.Workers <= 0 {
			c.Workers = 2
		}
		c.queue = make(chan *coalesced[In, Out], c.MaxBatch*c.Workers)
		c.slots = make(chan struct{}, c.Workers)
		go c.loop()
	})
}

// Do runs in as part of a batch and returns its own result.
func (c *Coalescer[In, Out]) Do(ctx context.Context, in In) (Out, error) {
	c.start()
	call := &coalesced[In, Out]{ctx: ctx, in: in, done: make(chan struct{})}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		c.run([]*coalesced[In, Out]{call}) // after Close: alone
		return call.out, call.err
	}
	select {
	case c.queue <- call:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		var zero Out
		return zero, ctx.Err()
	}
	<-call.done // a started batch is never abandoned: its outcome is this call's outcome
	return call.out, call.err
}

// Close ends batching once the queued calls are done; later calls run alone.
func (c *Coalescer[In, Out]) Close() {
	c.start()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.queue)
	}
}

func (c *Coalescer[In, Out]) loop() {
	for first := range c.queue {
		c.slots <- struct{}{} // wait for a free worker; calls pile up meanwhile
		batch := []*coalesced[In, Out]{first}
	gather:
		for len(batch) < c.MaxBatch {
			select {
			case call := <-c.queue:
				batch = append(batch, call)
			default:
				break gather
			}
		}
		go func() {
			defer func() { <-c.slots }()
			c.run(batch)
		}()
	}
}

func (c *Coalescer[In, Out]) run(batch []*coalesced[In, Out]) {
	items := make([]In, len(batch))
	for i, call := range batch {
		items[i] = call.in
	}
	// The batch outlives any one caller's cancellation but keeps the first caller's values.
	ctx := context.WithoutCancel(batch[0].ctx)
	outs, err := c.Run(ctx, items)
	if err == nil && len(outs) != len(batch) {
		err = errBatchShape
	}
	if err == nil || len(batch) == 1 {
		for i, call := range batch {
			if err == nil {
				call.out = outs[i]
			}
			call.err = err
			close(call.done)
		}
		return
	}
	for _, call := range batch {
		out, err := c.Run(context.WithoutCancel(call.ctx), []In{call.in})
		if err == nil && len(out) == 1 {
			call.out = out[0]
		} else if err == nil {
			call.err = errBatchShape
		} else {
			call.err = err
		}
		close(call.done)
	}
}

var errBatchShape = errorString("coalescer: Run returned the wrong number of results")

type errorString string

func (e errorString) Error() string { return string(e) }
