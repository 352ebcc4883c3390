package main

// campaign measures a broadcast to a list against a raw SMTP loop to the same sink, in one
// run, then crashes a worker in the middle of one:
//
//	(a) raw: net/smtp sessions sending one pre-rendered message in a loop (the ceiling);
//	(b) engine: POST /v1/campaigns to an opt-in list of N subscribers; one worker process
//	    (Temporal CLI dev server, PostgreSQL with fsync) sends it over SMTP — mails/s from the
//	    campaign's own startedAt/completedAt, the ratio, CPU per mail, the worker's peak RSS;
//	(c) kill -9: a second campaign to the same list; the worker is killed once half is sent and
//	    started again; the sink tallies each recipient's messages by Message-ID.
//
// The sink counts and discards (in (c) it reads headers too); everything shares the machine.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/email/smtptest"
	"github.com/hogsend/hogsend/internal/pglocal"
)

func runCampaign(recipients, concurrency, page int) error {
	ctx := context.Background()
	sink, err := smtptest.Start(true)
	if err != nil {
		return err
	}
	defer sink.Close()
	fmt.Printf("hogsend campaign benchmark — %d list subscribers, page %d, %d sends in flight, SMTP sink on %s\n",
		recipients, page, concurrency, sink.Addr())
	rawRate, rawFailures, err := rawSMTP(sink.Addr(), recipients, concurrency)
	if err != nil {
		return err
	}
	fmt.Printf("(a) raw net/smtp loop        %7.0f msgs/s   failures %d\n", rawRate, rawFailures)

	setup, err := prepare(ctx)
	if err != nil {
		return err
	}
	defer setup.stop()
	if err := seedSubscribers(ctx, setup.conn, recipients); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "hogsend-bench-campaign-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	addr, _, stopTemporal, err := startTemporal(ctx, 0, filepath.Join(dir, "temporal.db"))
	if err != nil {
		return err
	}
	defer stopTemporal()
	port, err := pglocal.FreePort()
	if err != nil {
		return err
	}
	env := []string{"TEMPORAL_ADDRESS=" + addr, "TEMPORAL_NAMESPACE=default", "TEMPORAL_TASK_QUEUE=campaign-bench", "EMAIL_PROVIDER=smtp",
		"PORT=" + strconv.Itoa(port), "API_PUBLIC_URL=https://t.example.com", "CAMPAIGN_PAGE_SIZE=" + strconv.Itoa(page),
		"CAMPAIGN_SEND_CONCURRENCY=" + strconv.Itoa(concurrency)}
	api, err := engineCmd(setup.dsn, "serve", append(env, "SMTP_URL="+sink.URL())...)
	if err != nil {
		return err
	}
	defer func() { _ = api.Process.Signal(syscall.SIGTERM); _ = api.Wait() }()
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := waitHTTP(base+"/v1/health/live", time.Minute); err != nil {
		return err
	}
	worker, err := engineCmd(setup.dsn, "worker", append(env, "SMTP_URL="+sink.URL())...)
	if err != nil {
		return err
	}
	c := &campaignClient{http: &http.Client{Timeout: 30 * time.Second}, base: base, token: setup.token}

	// (b) one campaign, one worker.
	cpu0, pg0, self0 := cpuSeconds(worker.Process.Pid), postgresCPU(), cpuSeconds(os.Getpid())
	before := sink.Count()
	id, err := c.create("bench-1")
	if err != nil {
		return err
	}
	got, err := c.wait(id, func(g campaignStatus) bool { return g.Status == "sent" }, 10*time.Minute)
	if err != nil {
		return err
	}
	workerCPU, pgCPU, selfCPU := cpuSeconds(worker.Process.Pid)-cpu0, postgresCPU()-pg0, cpuSeconds(os.Getpid())-self0
	_, peak := rss(worker.Process.Pid)
	took := got.CompletedAt.Sub(*got.StartedAt)
	rate := float64(got.SentCount) / took.Seconds()
	fmt.Printf("(b) campaign → SMTP          %7.0f mails/s   %d sent in %.1f s, sink received %d   (target ≥ 5,200 mails/s)\n",
		rate, got.SentCount, took.Seconds(), sink.Count()-before)
	fmt.Printf("    counts: total %d, sent %d, skipped %d, failed %d\n", got.TotalRecipients, got.SentCount, got.SkippedCount, got.FailedCount)
	fmt.Printf("    CPU per mail: worker %.3f ms, PostgreSQL %.3f ms, bench + sink %.3f ms (%d cores)\n",
		1000*workerCPU/float64(got.SentCount), 1000*pgCPU/float64(got.SentCount), 1000*selfCPU/float64(got.SentCount), runtime.NumCPU())
	fmt.Printf("ratio (b)/(a) = %.0f %%   (target ≥ 55 %%)\n", 100*rate/rawRate)
	fmt.Printf("worker peak RSS: %.0f MiB   (target ≤ 100 MiB)\n", peak)
	_ = worker.Process.Signal(syscall.SIGTERM)
	_ = worker.Wait()

	// (c) kill -9 of the worker half-way through a second campaign.
	tally, err := smtptest.StartTally()
	if err != nil {
		return err
	}
	defer tally.Close()
	workerEnv := append(env, "SMTP_URL="+tally.URL())
	if worker, err = engineCmd(setup.dsn, "worker", workerEnv...); err != nil {
		return err
	}
	if id, err = c.create("bench-2"); err != nil {
		return err
	}
	if _, err := c.wait(id, func(g campaignStatus) bool { return g.SentCount >= recipients/2 }, 10*time.Minute); err != nil {
		return err
	}
	_ = worker.Process.Signal(syscall.SIGKILL)
	_ = worker.Wait()
	fmt.Printf("(c) killed the worker (kill -9) at %d messages received; starting another\n", tally.Count())
	if worker, err = engineCmd(setup.dsn, "worker", workerEnv...); err != nil {
		return err
	}
	defer func() { _ = worker.Process.Signal(syscall.SIGTERM); _ = worker.Wait() }()
	restarted := time.Now()
	if got, err = c.wait(id, func(g campaignStatus) bool { return g.Status == "sent" }, 10*time.Minute); err != nil {
		return err
	}
	once, missing, twice, redelivered := 0, 0, 0, 0
	counts := tally.Tally()
	for i := range recipients {
		ids := counts[subscriber(i)]
		switch {
		case len(ids) == 0:
			missing++
		case len(ids) > 1:
			twice++
		default:
			once++
		}
		for _, n := range ids {
			redelivered += n - 1
		}
	}
	fmt.Printf("    finished %.0f s after the restart: status %s, total %d, sent %d, skipped %d, failed %d\n",
		time.Since(restarted).Seconds(), got.Status, got.TotalRecipients, got.SentCount, got.SkippedCount, got.FailedCount)
	fmt.Printf("    recipients with exactly one message %d, none %d, two distinct messages %d   (target: all %d exactly one)\n",
		once, missing, twice, recipients)
	fmt.Printf("    repeat deliveries of one Message-ID (in flight at the kill, sent again as the same message): %d\n", redelivered)
	if once != recipients {
		return fmt.Errorf("the crash cost %d recipients their message and gave %d two", missing, twice)
	}
	return nil
}

func subscriber(i int) string { return "sub-" + strconv.Itoa(i) + "@example.com" }

// seedSubscribers copies n contacts subscribed to the example's opt-in list.
func seedSubscribers(ctx context.Context, conn *pgx.Conn, n int) error {
	contacts, prefs := make([][]any, n), make([][]any, n)
	for i := range n {
		key := "sub-" + strconv.Itoa(i)
		contacts[i] = []any{key, subscriber(i)}
		prefs[i] = []any{key, subscriber(i), map[string]bool{"product-updates": true}}
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"contacts"}, []string{"external_id", "email"}, pgx.CopyFromRows(contacts)); err != nil {
		return err
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"email_preferences"}, []string{"user_id", "email", "categories"}, pgx.CopyFromRows(prefs)); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, `ANALYZE contacts; ANALYZE email_preferences`)
	return err
}

type campaignClient struct {
	http        *http.Client
	base, token string
}

type campaignStatus struct {
	Status                                                string
	TotalRecipients, SentCount, SkippedCount, FailedCount int
	StartedAt, CompletedAt                                *time.Time
}

func (c *campaignClient) create(key string) (string, error) {
	raw, _ := json.Marshal(map[string]any{"list": "product-updates", "template": "welcome", "props": map[string]any{"name": "friend"},
		"idempotencyKey": key})
	req, _ := http.NewRequest(http.MethodPost, c.base+"/v1/campaigns", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct{ CampaignID string }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("create campaign: %d %v", res.StatusCode, err)
	}
	return out.CampaignID, nil
}

// wait polls the campaign until done says so.
func (c *campaignClient) wait(id string, done func(campaignStatus) bool, within time.Duration) (campaignStatus, error) {
	deadline := time.Now().Add(within)
	for {
		req, _ := http.NewRequest(http.MethodGet, c.base+"/v1/campaigns/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+c.token)
		res, err := c.http.Do(req)
		var g campaignStatus
		if err == nil {
			err = json.NewDecoder(res.Body).Decode(&g)
			res.Body.Close()
		}
		if err == nil && done(g) {
			return g, nil
		}
		if time.Now().After(deadline) {
			return g, fmt.Errorf("campaign %s: still %s after %s (sent %d)", id, g.Status, within, g.SentCount)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
