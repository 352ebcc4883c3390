package ingest

import (
	"cmp"
	"context"
	"hash/fnv"
	"time"

	"github.com/hogsend/hogsend/internal/batch"
	"github.com/hogsend/hogsend/internal/contacts"
	"github.com/hogsend/hogsend/internal/store"
)

// GroupCommit coalesces concurrent single-event ingests, and concurrent contact upserts, into
// shared transactions: one commit (one WAL flush) serves many requests. A request waits at most
// MaxWait for companions; each event runs in its own savepoint, so it gets its own result or
// error and a bad event never fails its neighbours (an upsert has nothing to undo: see
// upsertBatch).
//
// contacts.Identity locks are held until a transaction commits, so requests are routed to
// committers by contact key: the same person always lands on the same committer and concurrent
// batches do not wait on each other. The rare request that still deadlocks (two keys on two
// committers), and every request of a batch whose commit fails, is retried alone; events carry
// their ids from the start, so one whose batch did commit after all is recognised and not stored
// twice (an upsert run again finds its contact).
type GroupCommit struct {
	// MaxBatch is the most events (or upserts) one transaction takes. Defaults to 256.
	MaxBatch int
	// MaxWait is how long the first request of a batch waits for more. Defaults to 2 ms.
	MaxWait time.Duration
	// Committers is how many batches commit concurrently. Defaults to 2: fewer, larger batches
	// measured best on 2 cores (see cmd/bench).
	Committers int

	c *batch.Coalescer[Event, BatchItem]
	u *batch.Coalescer[contacts.Identity, upserted]
}

// Commits is how many shared transactions have committed (a measure of coalescing).
func (g *GroupCommit) Commits() int64 { return g.c.Batches() + g.u.Batches() }

// EnableGroupCommit routes Ingest through g.
func (s *Service) EnableGroupCommit(g *GroupCommit) {
	g.c = &batch.Coalescer[Event, BatchItem]{
		MaxBatch: cmp.Or(g.MaxBatch, 256), MaxWait: cmp.Or(g.MaxWait, 2*time.Millisecond),
		Lanes: cmp.Or(g.Committers, 2), Workers: 1, Lane: committerOf,
		Run: s.IngestBatch, // a panic (say, in a consumer) fails only its batch, rolled back
		Alone: func(ctx context.Context, ev Event) (BatchItem, error) {
			// A batch that failed at COMMIT may have committed: an event already stored under
			// its id is not stored again.
			if stored, err := store.EventStored(ctx, s.DB, ev.ID); err != nil || stored {
				return BatchItem{Result: Result{Stored: stored, EventID: ev.ID, Exits: []ExitResult{}}, Err: err}, nil
			}
			res, err := s.ingestAlone(ctx, ev)
			return BatchItem{Result: res, Err: err}, nil
		},
		RetryAlone: func(it BatchItem) bool { return store.Retryable(it.Err) },
	}
	g.u = &batch.Coalescer[contacts.Identity, upserted]{
		MaxBatch: cmp.Or(g.MaxBatch, 256), MaxWait: cmp.Or(g.MaxWait, 2*time.Millisecond),
		Lanes: cmp.Or(g.Committers, 2), Workers: 1, Lane: laneOf,
		Run: s.upsertBatch,
		Alone: func(ctx context.Context, in contacts.Identity) (upserted, error) {
			res, err := s.upsertAlone(ctx, in)
			return upserted{res: res, err: err}, nil
		},
	}
	s.group = g
}

// committerOf routes an event by its first identity key.
func committerOf(ev Event) uint32 {
	return laneOf(contacts.Identity{UserID: ev.UserID, Email: ev.Email, AnonymousID: ev.AnonymousID})
}

// laneOf routes an identity by its first key.
func laneOf(id contacts.Identity) uint32 {
	id = id.Clean()
	h := fnv.New32a()
	h.Write([]byte(cmp.Or(id.UserID, id.Email, id.AnonymousID)))
	return h.Sum32()
}
