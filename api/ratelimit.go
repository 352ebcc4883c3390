package api

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// slidingWindow is an in-process sliding-window limiter per API key: every request counts,
// rejected ones included. Replicas each keep their own budget.
type slidingWindow struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	hits map[string][]time.Time
}

func newSlidingWindow(limit int, window time.Duration) *slidingWindow {
	return &slidingWindow{limit: limit, window: window, now: time.Now, hits: map[string][]time.Time{}}
}

// take records a request of key and returns how many came before it within the window.
func (l *slidingWindow) take(key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	kept := l.hits[key][:0]
	for _, t := range l.hits[key] {
		if now.Sub(t) < l.window {
			kept = append(kept, t)
		}
	}
	prior := len(kept)
	l.hits[key] = append(kept, now)
	if len(l.hits) > 10_000 { // forget idle keys so the map cannot grow without bound
		for k, ts := range l.hits {
			if len(ts) == 0 || now.Sub(ts[len(ts)-1]) >= l.window {
				delete(l.hits, k)
			}
		}
	}
	return prior
}

// rateLimit answers 429 once a key spent its budget; it runs after authentication.
func (s *Server) rateLimit(l *slidingWindow) gin.HandlerFunc {
	return s.wrap(func(c *gin.Context) error {
		key := identity(c).KeyID
		if key == "" {
			key = "legacy"
		}
		prior := l.take(key)
		c.Header("X-RateLimit-Limit", strconv.Itoa(l.limit))
		c.Header("X-RateLimit-Remaining", strconv.Itoa(max(0, l.limit-prior-1)))
		if prior >= l.limit {
			c.Header("Retry-After", strconv.Itoa(int(l.window/time.Second)))
			c.Abort()
			return &HTTPError{Status: http.StatusTooManyRequests, Message: "Rate limit exceeded"}
		}
		c.Next()
		return nil
	})
}
