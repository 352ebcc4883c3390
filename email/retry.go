package email

import (
	"context"
	"math/rand/v2"
	"time"
)

// Retrying retries a provider's retryable failures with exponential backoff, for synchronous
// callers (HTTP routes). Inside Temporal activities providers are used without it: Temporal
// retries. An ambiguous failure is not retried here: the caller records it first. Zero fields take the defaults: 3 retries, 500 ms doubling up to 30 s.
type Retrying struct {
	Provider   Provider
	MaxRetries int
	BaseDelay  time.Duration
	MaxDelay   time.Duration
}

// Name implements Provider.
func (r Retrying) Name() string { return r.Provider.Name() }

// Send implements Provider; attempt k waits min(base·2^k + jitter in [0, base), max).
func (r Retrying) Send(ctx context.Context, m Message) (SendResult, error) {
	retries, base, limit := r.MaxRetries, r.BaseDelay, r.MaxDelay
	if retries == 0 {
		retries = 3
	}
	if base == 0 {
		base = 500 * time.Millisecond
	}
	if limit == 0 {
		limit = 30 * time.Second
	}
	for attempt := 0; ; attempt++ {
		res, err := r.Provider.Send(ctx, m)
		if err == nil || !Retryable(err) || Ambiguous(err) || attempt >= retries {
			return res, err
		}
		wait := min(base<<attempt+time.Duration(rand.Int64N(int64(base))), limit)
		select {
		case <-ctx.Done():
			return SendResult{}, err
		case <-time.After(wait):
		}
	}
}
