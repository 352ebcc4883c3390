package api

import (
	"context"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/schema"
)

// APIVersion is the HTTP contract version reported by health.
const APIVersion = "0.0.1"

// probeTimeout bounds each health probe, so a hung dependency cannot hang the health check.
const probeTimeout = 3 * time.Second

// heartbeatWindow is how recent a worker heartbeat must be for the worker to count as up.
const heartbeatWindow = 30 * time.Second

type healthHandlers struct {
	s *Server
}

type componentJSON struct {
	Status    string  `json:"status"`
	LatencyMs *int64  `json:"latencyMs,omitempty"`
	LastSeen  *string `json:"lastSeenAt,omitempty"`
	Error     string  `json:"error,omitempty"`
}

type healthJSON struct {
	Status     string                   `json:"status"`
	Uptime     float64                  `json:"uptime"`
	Timestamp  string                   `json:"timestamp"`
	Version    string                   `json:"version"`
	Engine     string                   `json:"engineVersion"`
	Components map[string]componentJSON `json:"components"`
	Schema     map[string]schema.Status `json:"schema"`
}

// timed runs probe under the probe timeout and reports up/down with its latency.
func timed(ctx context.Context, probe func(context.Context) error) componentJSON {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	start := time.Now()
	err := probe(ctx)
	ms := time.Since(start).Milliseconds()
	if err != nil {
		return componentJSON{Status: "down", LatencyMs: &ms}
	}
	return componentJSON{Status: "up", LatencyMs: &ms}
}

// check gathers every probe concurrently.
func (h *healthHandlers) check(ctx context.Context) healthJSON {
	cfg := h.s.cfg
	var (
		wg                 sync.WaitGroup
		mu                 sync.Mutex
		db, temporal, work componentJSON
		tracks             = map[string]schema.Status{}
	)
	wg.Go(func() { db = timed(ctx, func(ctx context.Context) error { return store.Ping(ctx, cfg.DB) }) })
	wg.Go(func() {
		temporal = timed(ctx, func(ctx context.Context) error {
			if cfg.Temporal == nil {
				return context.Canceled
			}
			_, err := cfg.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
			return err
		})
	})
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, probeTimeout)
		defer cancel()
		work = componentJSON{Status: "down"}
		if last, alive, err := store.LatestHeartbeat(ctx, cfg.DB, heartbeatWindow); err == nil && alive {
			work = componentJSON{Status: "up", LastSeen: ptr.Map(last, journey.Timestamp)}
		}
	})
	for _, t := range cfg.Tracks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			st, err := schema.ReadStatus(ctx, cfg.DB, t)
			if err != nil || st.LedgerError != nil {
				st.InSync = false
			}
			mu.Lock()
			tracks[t.Name] = st
			mu.Unlock()
		})
	}
	wg.Wait()

	status := "degraded"
	if db.Status == "up" && temporal.Status == "up" {
		status = "healthy"
	}
	for _, st := range tracks {
		if !st.InSync {
			status = "migration_pending"
		}
	}
	uptime := time.Since(cfg.Started).Seconds()
	return healthJSON{
		Status:    status,
		Uptime:    math.Round(uptime*100) / 100,
		Timestamp: journey.Timestamp(time.Now()),
		Version:   APIVersion,
		Engine:    cfg.Version,
		Components: map[string]componentJSON{
			"database": db,
			"temporal": temporal,
			"redis":    temporal, // deprecated alias read by reference clients
			"worker":   work,
		},
		Schema: tracks,
	}
}

// publicHealth is what health says to a caller without a key: the verdict, not the versions,
// migration tags or worker timestamps.
type publicHealth struct {
	Status    string `json:"status"`
	Timestamp string `json:"timestamp"`
}

// answer writes body in full to a caller with a read key, else only its verdict.
func (h *healthHandlers) answer(c *gin.Context, code int, body healthJSON) {
	if c.GetHeader("Authorization") != "" {
		if id, err := h.s.authenticate(c); err == nil && apikeys.HasScope(id.Scopes, apikeys.Read) {
			c.JSON(code, body)
			return
		}
	}
	c.JSON(code, publicHealth{Status: body.Status, Timestamp: body.Timestamp})
}

func (h *healthHandlers) health(c *gin.Context) error {
	h.answer(c, http.StatusOK, h.check(c.Request.Context()))
	return nil
}

func (h *healthHandlers) live(c *gin.Context) error {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
	return nil
}

func (h *healthHandlers) ready(c *gin.Context) error {
	body := h.check(c.Request.Context())
	engine, ok := body.Schema[schema.TrackEngine]
	code := http.StatusOK
	if body.Components["database"].Status != "up" || (ok && !engine.InSync) {
		code = http.StatusServiceUnavailable
	}
	h.answer(c, code, body)
	return nil
}
