package batch

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// doubler doubles its items; 13 fails any batch it is in, and fails alone too.
func doubler(release <-chan struct{}, entered, largest *atomic.Int32) func(context.Context, []int) ([]int, error) {
	return func(_ context.Context, items []int) ([]int, error) {
		if n := int32(len(items)); n > largest.Load() {
			largest.Store(n)
		}
		entered.Add(int32(len(items)))
		<-release
		out := make([]int, len(items))
		for i, v := range items {
			if v == 13 && len(items) > 1 {
				return nil, errors.New("a bad item fails its batch")
			}
			if v == 13 {
				return nil, errors.New("13 alone")
			}
			out[i] = v * 2
		}
		return out, nil
	}
}

func TestCoalescerBatchesAndIsolatesFailures(t *testing.T) {
	t.Parallel()
	var entered, largest atomic.Int32
	release := make(chan struct{})
	c := &Coalescer[int, int]{Workers: 1, Run: doubler(release, &entered, &largest)}
	var wg sync.WaitGroup
	results := make([]int, 20)
	errs := make([]error, 20)
	for i := range 20 {
		wg.Go(func() { results[i], errs[i] = c.Do(context.Background(), i+1) })
	}
	// The first batch blocks in Run; every other call queues behind it.
	require.Eventually(t, func() bool { return entered.Load() > 0 && int(entered.Load())+c.Queued() == 20 }, 5*time.Second, time.Millisecond)
	first := entered.Load()
	close(release)
	wg.Wait()
	for i := range 20 {
		if i+1 == 13 {
			require.EqualError(t, errs[i], "13 alone")
			continue
		}
		require.NoError(t, errs[i])
		require.Equal(t, (i+1)*2, results[i])
	}
	require.GreaterOrEqual(t, largest.Load(), 20-first, "the calls that queued while a batch ran went together")

	c.Close()
	v, err := c.Do(context.Background(), 4) // after Close: run alone
	require.NoError(t, err)
	require.Equal(t, 8, v)
}

func TestLanesKeepTheirItemsApartAndRetryAlone(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var batches [][]int
	release := make(chan struct{})
	alone := atomic.Int32{}
	c := &Coalescer[int, int]{
		Lanes: 2, Workers: 1, MaxWait: time.Millisecond,
		Lane: func(v int) uint32 { return uint32(v % 2) },
		Run: func(_ context.Context, items []int) ([]int, error) {
			<-release
			mu.Lock()
			batches = append(batches, append([]int(nil), items...))
			mu.Unlock()
			return items, nil
		},
		Alone:      func(_ context.Context, v int) (int, error) { alone.Add(1); return -v, nil },
		RetryAlone: func(out int) bool { return out == 7 },
	}
	var wg sync.WaitGroup
	out := make([]int, 10)
	for i := range 10 {
		wg.Go(func() { out[i], _ = c.Do(context.Background(), i) })
	}
	close(release)
	wg.Wait()
	for _, b := range batches {
		for _, v := range b {
			require.Equal(t, b[0]%2, v%2, "a batch holds one lane's items: %v", b)
		}
	}
	for i, v := range out {
		if i == 7 {
			require.Equal(t, -7, v, "a result RetryAlone rejects is run again alone")
			continue
		}
		require.Equal(t, i, v)
	}
	require.EqualValues(t, 1, alone.Load())
	require.Positive(t, c.Batches())
}

func TestAPanicFailsOnlyItsBatch(t *testing.T) {
	t.Parallel()
	c := &Coalescer[string, string]{Run: func(_ context.Context, items []string) ([]string, error) {
		if items[0] == "boom" {
			panic("bug")
		}
		return items, nil
	}}
	t.Cleanup(c.Close)
	_, err := c.Do(context.Background(), "boom")
	require.ErrorContains(t, err, "panicked")
	v, err := c.Do(context.Background(), "fine")
	require.NoError(t, err)
	require.Equal(t, "fine", v)
}

func TestCloseWaitsForQueuedCalls(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var entered, done atomic.Int32
	c := &Coalescer[int, int]{Workers: 1, Run: func(_ context.Context, items []int) ([]int, error) {
		entered.Add(int32(len(items)))
		<-release
		done.Add(int32(len(items)))
		return items, nil
	}}
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() { _, _ = c.Do(context.Background(), i) })
	}
	require.Eventually(t, func() bool { return entered.Load() > 0 && int(entered.Load())+c.Queued() == 5 }, 5*time.Second, time.Millisecond)
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	close(release)
	<-closed
	require.EqualValues(t, 5, done.Load(), "Close returns after every queued call ran")
	wg.Wait()
}

func TestACallerThatGivesUpGetsAnErrorAndABatchIsBounded(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var ran sync.Map // items Run saw
	c := &Coalescer[int, int]{Workers: 1, Timeout: 200 * time.Millisecond, Run: func(ctx context.Context, items []int) ([]int, error) {
		for _, v := range items {
			ran.Store(v, true)
		}
		select {
		case <-release:
			return items, nil
		case <-ctx.Done(): // a stalled write ends at the batch's bound
			return nil, ctx.Err()
		}
	}}

	// Item 1 occupies the only worker; item 2 queues behind it.
	running, cancelRunning := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() { _, err := c.Do(running, 1); firstErr <- err }()
	require.Eventually(t, func() bool { _, ok := ran.Load(1); return ok }, 5*time.Second, time.Millisecond)
	waiting, cancelWaiting := context.WithCancel(context.Background())
	secondErr := make(chan error, 1)
	go func() { _, err := c.Do(waiting, 2); secondErr <- err }()
	require.Eventually(t, func() bool { return c.Queued() == 1 }, 5*time.Second, time.Millisecond)

	// Giving up before a batch took it: ctx's error, and the item never runs.
	cancelWaiting()
	require.ErrorIs(t, <-secondErr, context.Canceled)
	// Giving up while its batch runs: the outcome is unknown, and the caller is told so at once.
	cancelRunning()
	err := <-firstErr
	require.ErrorIs(t, err, ErrOutcomeUnknown)
	require.ErrorIs(t, err, context.Canceled)

	// The stalled batch ends at its Timeout, and the next one runs without the abandoned item.
	third := make(chan error, 1)
	go func() { _, err := c.Do(context.Background(), 3); third <- err }()
	require.Eventually(t, func() bool { _, ok := ran.Load(3); return ok }, 5*time.Second, time.Millisecond)
	close(release)
	require.NoError(t, <-third)
	_, ran2 := ran.Load(2)
	require.False(t, ran2, "an abandoned item is not run")
}
