package main

// buckets measures what buckets cost the event path and how fast the sweep and a backfill go,
// in one run against one private durable PostgreSQL:
//
//	(a) POST /v1/events at the given concurrency, the engine without buckets and with the
//	    example app's twelve (twice each, alternating, best kept): the ingest benchmark's load
//	    (events no bucket names) and a load every event of which a bucket must evaluate
//	    (session.completed: two windowed counts);
//	(b) freshness: a joining event, then the admin events route finds its bucket:entered —
//	    p50 / p99 from the POST's start;
//	(c) the sweep: members of a time-window bucket whose window has passed, left by the
//	    reconcile pass (flip + transition intent per member), rows/s;
//	(d) a first-time backfill over contacts (half match), rows/s;
//
// the ceiling of (c) and (d): raw COPY of as many membership rows.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/bucket"
	c "github.com/hogsend/hogsend/condition"
	internal "github.com/hogsend/hogsend/internal/buckets"
)

// benchBucketsEnv makes the engine child register the example app's buckets.
const benchBucketsEnv = "HOGSEND_BENCH_BUCKETS"

func runBuckets(requests, concurrency, members int) error {
	ctx := context.Background()
	setup, err := prepare(ctx, "ingest", "read")
	if err != nil {
		return err
	}
	defer setup.stop()
	fmt.Printf("hogsend buckets benchmark — %d requests at concurrency %d, %d members / contacts for the sweep and the backfill\n",
		requests, concurrency, members)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency * 2}, Timeout: 30 * time.Second}

	// (a) the same loads without and with buckets, each on a fresh engine.
	loads := []struct {
		name  string
		event func(i int) map[string]any
	}{
		{"events no bucket names", func(i int) map[string]any {
			return map[string]any{"name": "page.viewed", "userId": "bb-" + strconv.Itoa(i%5000), "eventProperties": map[string]any{"path": "/pricing"}}
		}},
		{"events a bucket evaluates", func(i int) map[string]any {
			return map[string]any{"name": "session.completed", "userId": "bb-" + strconv.Itoa(i%5000)}
		}},
	}
	// Each engine runs twice, alternating, and keeps its best: whichever ran first otherwise pays
	// for the database's and the page cache's warm-up.
	rates := map[string][2]float64{}
	for round, with := range []bool{false, true, false, true} {
		k := round % 2
		extra := []string{}
		if with {
			extra = append(extra, benchBucketsEnv+"=1")
		}
		base, engine, err := startEngine(setup.dsn, extra...)
		if err != nil {
			return err
		}
		if round == 0 { // the contacts exist first: both engines see events of known people
			for from := 0; from < 5000; from += 500 {
				seed := make([]map[string]any, 500)
				for i := range seed {
					seed[i] = map[string]any{"name": "seed", "userId": "bb-" + strconv.Itoa(from+i)}
				}
				if err := post(client, base+"/v1/events/batch", setup.token, map[string]any{"events": seed}); err != nil {
					return fmt.Errorf("seed contacts: %w", err)
				}
			}
		}
		for _, load := range loads {
			bodies := make([][]byte, 4096)
			for i := range bodies {
				bodies[i], _ = json.Marshal(load.event(i))
			}
			send := func(i int) error { return postRaw(client, base+"/v1/events", setup.token, bodies[i%len(bodies)]) }
			parallel(requests/10, concurrency, send) // warm-up: a fresh engine's first requests are slower
			rate, failures := parallel(requests, concurrency, send)
			if failures > 0 {
				fmt.Printf("    %d failures\n", failures)
			}
			r := rates[load.name]
			r[k] = max(r[k], rate)
			rates[load.name] = r
		}
		if round == 1 {
			if err := freshness(client, base, setup.token); err != nil {
				return err
			}
		}
		_ = engine.Process.Signal(syscall.SIGTERM)
		_ = engine.Wait()
	}
	for _, load := range loads {
		r := rates[load.name]
		fmt.Printf("(a) %-26s without buckets %7.0f req/s, with %7.0f req/s: %3.0f %%   (target ≥ 80 %%)\n", load.name, r[0], r[1], 100*r[1]/r[0])
	}

	// (c) and (d) in this process, on the same database.
	return sweepAndBackfill(ctx, setup, members)
}

// freshness times POST → the transition event readable, sequentially.
func freshness(client *http.Client, base, token string) error {
	const n = 200
	took := make([]time.Duration, n)
	for i := range n {
		user := "fresh-" + strconv.Itoa(i)
		t0 := time.Now()
		if err := post(client, base+"/v1/events", token, map[string]any{"name": "signup", "userId": user}); err != nil {
			return err
		}
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/admin/events?event=bucket:entered:t-signed-up&userId="+user, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		var out struct{ Total int }
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil || out.Total != 1 {
			return fmt.Errorf("freshness: the entered event of %s was not there right after the 202 (%v)", user, err)
		}
		took[i] = time.Since(t0)
	}
	slices.Sort(took)
	fmt.Printf("(b) freshness (202 → bucket:entered readable)  p50 %5.1f ms   p99 %5.1f ms   (target p99 ≤ 100 ms; it commits with the event)\n",
		ms(took[n/2]), ms(took[n*99/100]))
	return nil
}

func sweepAndBackfill(ctx context.Context, setup *benchSetup, members int) error {
	conn := setup.conn
	window := bucket.MustDefine(bucket.Meta{ID: "bench-window", Name: "Window", Enabled: true, Criteria: c.Event("bench.ping").Within(c.Seconds(60)).Exists()})
	paying := bucket.MustDefine(bucket.Meta{ID: "bench-paying", Name: "Paying", Enabled: true, Criteria: c.Any(c.Prop("plan").Eq("pro"), c.Prop("plan").Eq("team"))})
	reg, err := bucket.NewRegistry([]*bucket.Bucket{window, paying}, nil)
	if err != nil {
		return err
	}
	// Contacts (half on a paid plan), a ping each ten minutes ago, and a window membership each.
	contacts, events, rows := make([][]any, members), make([][]any, members), make([][]any, members)
	past := time.Now().Add(-10 * time.Minute)
	for i := range members {
		key := "sw-" + strconv.Itoa(i)
		plan := map[bool]string{true: "pro", false: "free"}[i%2 == 0]
		contacts[i] = []any{key, map[string]any{"plan": plan}}
		events[i] = []any{key, "bench.ping", map[string]any{}, past}
		rows[i] = []any{key, "bench-window", "active", past, 1, "event"}
	}
	for _, copy := range []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"contacts", []string{"external_id", "properties"}, contacts},
		{"user_events", []string{"user_id", "event", "properties", "occurred_at"}, events},
	} {
		if _, err := conn.CopyFrom(ctx, pgx.Identifier{copy.table}, copy.cols, pgx.CopyFromRows(copy.rows)); err != nil {
			return fmt.Errorf("seed %s: %w", copy.table, err)
		}
	}
	start := time.Now()
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"bucket_memberships"}, []string{"user_id", "bucket_id", "status", "entered_at", "entry_count", "source"},
		pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copy ceiling: %w", err)
	}
	copyRate := perSecond(members, start)
	// Planner statistics as autovacuum would leave them: a bulk load is otherwise planned as an
	// empty table.
	if _, err := conn.Exec(ctx, `ANALYZE contacts; ANALYZE user_events; ANALYZE bucket_memberships`); err != nil {
		return err
	}

	// (c) one sweep of the leaves pass, page after page.
	rec := &internal.Reconciler{DB: setup.conn, Registry: reg}
	start = time.Now()
	left, cursor := 0, ""
	for {
		res, err := rec.Pass(ctx, "bench-window", internal.PassLeaves, cursor)
		if err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
		left += res.Changed
		if !res.More {
			break
		}
		cursor = res.Cursor
	}
	sweep := time.Since(start)
	fmt.Printf("(c) sweep: %d members left in %.1f s = %7.0f rows/s   (target ≤ 15 s for 200,000)\n", left, sweep.Seconds(), float64(left)/sweep.Seconds())

	// (d) a first-time backfill of the paying bucket over every contact.
	f := &internal.Backfiller{DB: setup.conn, Registry: reg}
	due, err := f.Due(ctx)
	if err != nil {
		return err
	}
	var job = due[0]
	for _, d := range due {
		if d.BucketID == "bench-paying" {
			job = d
		}
	}
	start = time.Now()
	joined, scanned := 0, 0
	for cursor = ""; ; {
		res, err := f.JoinPage(ctx, job, cursor)
		if err != nil {
			return fmt.Errorf("backfill: %w", err)
		}
		joined, scanned, cursor = joined+res.Changed, scanned+res.Processed, res.Cursor
		if !res.More {
			break
		}
	}
	backfill := time.Since(start)
	fmt.Printf("(d) backfill: %d contacts scanned, %d joined in %.1f s = %7.0f contacts/s   (target ≤ 30 s for 200,000)\n",
		scanned, joined, backfill.Seconds(), float64(scanned)/backfill.Seconds())
	fmt.Printf("    ceiling: raw COPY of %d membership rows %7.0f rows/s\n", members, copyRate)
	return nil
}
