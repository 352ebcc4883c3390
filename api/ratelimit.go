package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	xrate "golang.org/x/time/rate"
)

// limiter is an in-process limiter per key (an API key, a client IP): a token bucket of limit
// requests refilled evenly over window (golang.org/x/time/rate). Replicas each keep their own
// budget; idle keys are forgotten, so the map stays bounded.
type limiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]*tokens
}

type tokens struct {
	*xrate.Limiter
	seen time.Time
}

// maxKeys is how many keys a limiter tracks before it forgets the idle ones.
const maxKeys = 10_000

func newLimiter(limit int, window time.Duration) *limiter {
	return &limiter{limit: limit, window: window, now: time.Now, keys: map[string]*tokens{}}
}

func (l *limiter) bucketOf(key string, now time.Time) *tokens {
	b := l.keys[key]
	if b == nil {
		if len(l.keys) >= maxKeys {
			for k, old := range l.keys {
				if now.Sub(old.seen) >= l.window { // refilled anyway: nothing is lost
					delete(l.keys, k)
				}
			}
		}
		b = &tokens{Limiter: xrate.NewLimiter(xrate.Every(l.window/time.Duration(l.limit)), l.limit)}
		l.keys[key] = b
	}
	b.seen = now
	return b
}

// take spends one request of key's budget; ok is false when it is spent.
func (l *limiter) take(key string) (ok bool, remaining int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.bucketOf(key, now)
	r := b.ReserveN(now, 1)
	if r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return false, 0
	}
	return true, int(math.Max(0, math.Floor(b.TokensAt(now))))
}

// spent reports whether key has no request left, without spending one.
func (l *limiter) spent(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.keys[key]
	if b == nil {
		return false, 0
	}
	if left := b.TokensAt(now); left < 1 {
		return true, time.Duration((1 - left) * float64(l.window) / float64(l.limit))
	}
	return false, 0
}

// tooMany is the 429 of a spent budget.
func tooMany(retry time.Duration) error {
	return &HTTPError{Status: http.StatusTooManyRequests, Message: "Rate limit exceeded", RetryAfter: retry}
}

// rateLimit answers 429 once a caller spent its budget. The admin and email limits run after
// authentication, keyed by API key; the public routes' by client IP. Retry-After is the whole
// window, as the reference sends, not the time to the next free request.
func (s *Server) rateLimit(l *limiter, keyOf func(c *gin.Context) string) gin.HandlerFunc {
	return s.wrap(func(c *gin.Context) error {
		ok, remaining := l.take(keyOf(c))
		c.Header("X-RateLimit-Limit", strconv.Itoa(l.limit))
		c.Header("X-RateLimit-Remaining", strconv.Itoa(remaining))
		if !ok {
			return tooMany(l.window)
		}
		c.Next()
		return nil
	})
}

// byAPIKey keys a limit by the authenticated key.
func byAPIKey(c *gin.Context) string {
	if key := identity(c).KeyID; key != "" {
		return key
	}
	return "legacy"
}

// byClientIP keys a limit by the client address (X-Forwarded-For only from trusted proxies).
func byClientIP(c *gin.Context) string { return c.ClientIP() }
