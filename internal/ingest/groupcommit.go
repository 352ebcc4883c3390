package ingest

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// GroupCommit coalesces concurrent single-event ingests into shared transactions: one commit
// (one WAL flush) serves many requests. A request waits at most MaxWait for companions; each
// event runs in its own savepoint, so it gets its own result or error and a bad event never fails
// its neighbours.
//
// Identity locks are held until a transaction commits, so events are routed to committers by
// contact key: the same person always lands on the same committer and concurrent batches do not
// wait on each other. The rare event that still deadlocks (two keys on two committers), and every
// event of a batch whose commit fails, is retried alone.
type GroupCommit struct {
	Service *Service
	// MaxBatch is the most events one transaction takes. Defaults to 256.
	MaxBatch int
	// MaxWait is how long the first event of a batch waits for more. Defaults to 2 ms.
	MaxWait time.Duration
	// Committers is how many batches commit concurrently. Defaults to 2: fewer, larger batches
	// measured best on 2 cores (see cmd/bench).
	Committers int

	commits atomic.Int64

	once   sync.Once
	mu     sync.RWMutex // guards closed against enqueueing
	closed bool
	queues []chan *pendingEvent
	stop   chan struct{}
	wg     sync.WaitGroup
}

type pendingEvent struct {
	ev   Event
	res  Result
	err  error
	done chan struct{}
}

func (g *GroupCommit) start() {
	g.once.Do(func() {
		if g.MaxBatch == 0 {
			g.MaxBatch = 256
		}
		if g.MaxWait == 0 {
			g.MaxWait = 2 * time.Millisecond
		}
		if g.Committers == 0 {
			g.Committers = 2
		}
		g.stop = make(chan struct{})
		g.queues = make([]chan *pendingEvent, g.Committers)
		for i := range g.queues {
			q := make(chan *pendingEvent, g.MaxBatch*2)
			g.queues[i] = q
			g.wg.Go(func() { g.commitLoop(q) })
		}
	})
}

// Close stops the committers after the events already queued are committed; later ingests
// run alone.
func (g *GroupCommit) Close() {
	g.start()
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return
	}
	g.closed = true
	close(g.stop)
	g.mu.Unlock()
	g.wg.Wait()
}

// route picks the committer of an event by its first identity key.
func (g *GroupCommit) route(ev Event) chan *pendingEvent {
	id := Identity{UserID: ev.UserID, Email: ev.Email, AnonymousID: ev.AnonymousID}.Clean()
	key := id.UserID
	if key == "" {
		key = id.Email
	}
	if key == "" {
		key = id.AnonymousID
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return g.queues[h.Sum32()%uint32(len(g.queues))]
}

// Ingest stores one event as part of the next shared transaction and returns its own outcome.
func (g *GroupCommit) Ingest(ctx context.Context, ev Event) (Result, error) {
	g.start()
	p := &pendingEvent{ev: ev, done: make(chan struct{})}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return g.Service.ingestAlone(ctx, ev)
	}
	select {
	case g.route(ev) <- p:
		g.mu.RUnlock()
	case <-ctx.Done():
		g.mu.RUnlock()
		return Result{Exits: []ExitResult{}}, ctx.Err()
	}
	// Once queued, the event is committed or failed by its committer; the caller waits for that
	// verdict even if it gave up meanwhile, so an event Postgres stored is never reported lost.
	<-p.done
	return p.res, p.err
}

func (g *GroupCommit) commitLoop(queue chan *pendingEvent) {
	batch := make([]*pendingEvent, 0, g.MaxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first *pendingEvent
		select {
		case first = <-queue:
		case <-g.stop:
			for { // commit what was queued before Close, then stop
				select {
				case p := <-queue:
					g.commit([]*pendingEvent{p})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
		timer.Reset(g.MaxWait)
	collect:
		for len(batch) < g.MaxBatch {
			select {
			case p := <-queue:
				batch = append(batch, p)
			case <-timer.C:
				break collect
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		g.commit(batch)
	}
}

// commit runs one shared transaction. Events that lost a deadlock, and all events of a batch
// whose commit failed, are then ingested alone.
func (g *GroupCommit) commit(batch []*pendingEvent) {
	s := g.Service
	defer func() {
		// A panic (say, in a consumer) fails this batch's events instead of the whole process;
		// their transaction was rolled back.
		if r := recover(); r != nil {
			for _, p := range batch {
				select {
				case <-p.done:
				default:
					p.res, p.err = Result{Exits: []ExitResult{}}, fmt.Errorf("ingest panicked: %v", r)
					close(p.done)
				}
			}
		}
	}()
	// The transaction outlives any one caller: a cancelled request must not roll back the others.
	ctx := context.Background()
	var retry []*pendingEvent
	events := make([]Event, len(batch))
	for i, p := range batch {
		events[i] = p.ev
	}
	err := pgx.BeginFunc(ctx, s.DB, func(tx pgx.Tx) error {
		items, err := s.IngestManyTx(ctx, tx, events)
		if err != nil {
			return err
		}
		retry = retry[:0]
		for i, p := range batch {
			p.res, p.err = items[i].Result, items[i].Err
			if retryable(p.err) {
				retry = append(retry, p)
			}
		}
		return nil
	})
	if err != nil {
		retry = batch
	} else {
		g.commits.Add(1)
		s.kick()
	}
	for _, p := range retry {
		p.res, p.err = s.ingestAlone(ctx, p.ev)
	}
	for _, p := range batch {
		close(p.done)
	}
}

// retryable reports errors that say nothing about the event itself: deadlock victims and
// serialization failures.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// Commits is how many shared transactions have committed (a measure of coalescing).
func (g *GroupCommit) Commits() int64 { return g.commits.Load() }
