package main

// email measures transactional sends through the whole pipeline against a raw SMTP loop to the
// same sink, in the same run:
//
//	(a) raw: net/smtp clients, one session each, sending a pre-rendered message in a loop;
//	(b) engine: POST /v1/emails → recipient lookup, preferences, send row, render, tracked links,
//	    SMTP (the engine's pooled sessions), status update + outbound event — sends/s, p50, p99;
//
// the ratio (b)/(a), and the engine's peak RSS. The sink is an in-process SMTP server that counts
// and discards; engine, sink, load generator and PostgreSQL share the machine.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/smtp"
	"os"
	"runtime"
	"slices"
	"syscall"
	"time"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/email/smtptest"
	"github.com/hogsend/hogsend/example/templates"
)

func runEmail(sends, concurrency int, gogc string) error {
	ctx := context.Background()
	sink, err := smtptest.Start(true)
	if err != nil {
		return err
	}
	defer sink.Close()
	fmt.Printf("hogsend email benchmark — %d sends at concurrency %d, SMTP sink on %s, engine GOGC=%s\n", sends, concurrency, sink.Addr(), cmp.Or(gogc, "100 (default)"))

	// (a) the ceiling: the same message, rendered once, over raw SMTP sessions.
	rawRate, rawFailures, err := rawSMTP(sink.Addr(), sends, concurrency)
	if err != nil {
		return err
	}
	fmt.Printf("(a) raw net/smtp loop     %8.0f msgs/s   failures %d\n", rawRate, rawFailures)
	before := sink.Count()

	// (b) the engine.
	setup, err := prepare(ctx)
	if err != nil {
		return err
	}
	defer setup.stop()
	env := []string{"EMAIL_PROVIDER=smtp", "SMTP_URL=" + sink.URL(), "RATE_LIMIT_DISABLED=true", "API_PUBLIC_URL=https://t.example.com"}
	if gogc != "" {
		env = append(env, "GOGC="+gogc)
	}
	base, engine, err := startEngine(setup.dsn, env...)
	if err != nil {
		return err
	}
	defer func() { _ = engine.Process.Signal(syscall.SIGTERM); _ = engine.Wait() }()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency * 2, MaxConnsPerHost: concurrency * 2}, Timeout: 30 * time.Second}
	bodies := make([][]byte, sends)
	for i := range bodies {
		bodies[i], _ = json.Marshal(map[string]any{"to": fmt.Sprintf("bench-%d@example.com", i), "template": "welcome",
			"props": map[string]any{"name": "Ada"}})
	}
	// Warm up connections, caches and the SMTP pool outside the measurement.
	warm := min(200, sends)
	parallel(warm, concurrency, func(i int) error { return postRaw(client, base+"/v1/emails", setup.token, bodies[i]) })
	latencies := make([]time.Duration, sends-warm)
	cpu0, pg0, self0 := cpuSeconds(engine.Process.Pid), postgresCPU(), cpuSeconds(os.Getpid())
	engineRate, failures := parallel(sends-warm, concurrency, func(i int) error {
		t0 := time.Now()
		err := postRaw(client, base+"/v1/emails", setup.token, bodies[warm+i])
		latencies[i] = time.Since(t0)
		return err
	})
	slices.Sort(latencies)
	engineCPU, pgCPU, selfCPU := cpuSeconds(engine.Process.Pid)-cpu0, postgresCPU()-pg0, cpuSeconds(os.Getpid())-self0
	_, peak := rss(engine.Process.Pid)
	delivered := sink.Count() - before
	var rows int
	if err := setup.conn.QueryRow(ctx, `SELECT count(*) FROM email_sends WHERE status = 'sent'`).Scan(&rows); err != nil {
		return err
	}
	n := len(latencies)
	fmt.Printf("(b) POST /v1/emails → SMTP %7.0f sends/s   p50 %6.2f ms   p99 %6.2f ms   failures %d   (target ≥ 2000 sends/s, p99 ≤ 100 ms)\n",
		engineRate, ms(latencies[n/2]), ms(latencies[n*99/100]), failures)
	fmt.Printf("    sink received %d messages, %d send rows are 'sent'\n", delivered, rows)
	fmt.Printf("    CPU per send: engine %.2f ms, PostgreSQL %.2f ms, load generator + sink %.2f ms (the machine has %d cores)\n",
		1000*engineCPU/float64(n), 1000*pgCPU/float64(n), 1000*selfCPU/float64(n), runtime.NumCPU())
	fmt.Printf("ratio (b)/(a) = %.0f %%   (target ≥ 25 %%)\n", 100*engineRate/rawRate)
	fmt.Printf("engine peak RSS: %.0f MiB\n", peak)
	return nil
}

// rawSMTP is the ceiling of every send benchmark: n copies of one pre-rendered message over
// concurrency raw net/smtp sessions to addr, msgs/s.
func rawSMTP(addr string, n, concurrency int) (float64, int64, error) {
	r, err := templates.Registry().Render("welcome", email.Props{"name": "Ada"})
	if err != nil {
		return 0, 0, err
	}
	raw, err := email.Message{From: "noreply@hogsend.com", To: []string{"ada@example.com"}, Subject: r.Subject, HTML: r.HTML, Text: r.Text}.
		MIME(email.NewMessageID("noreply@hogsend.com"), time.Now())
	if err != nil {
		return 0, 0, err
	}
	clients := make(chan *smtp.Client, concurrency)
	for range concurrency {
		c, err := smtp.Dial(addr)
		if err != nil {
			return 0, 0, err
		}
		defer c.Close()
		clients <- c
	}
	rate, failures := parallel(n, concurrency, func(i int) error {
		c := <-clients
		defer func() { clients <- c }()
		if err := c.Mail("noreply@hogsend.com"); err != nil {
			return err
		}
		if err := c.Rcpt(fmt.Sprintf("raw-%d@example.com", i)); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := w.Write(raw); err != nil {
			return err
		}
		return w.Close()
	})
	return rate, failures, nil
}
