package store

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCoalescerBatchesAndIsolatesFailures(t *testing.T) {
	t.Parallel()
	var largest atomic.Int32
	release := make(chan struct{})
	c := &Coalescer[int, int]{Workers: 1, Run: func(_ context.Context, items []int) ([]int, error) {
		if n := int32(len(items)); n > largest.Load() {
			largest.Store(n)
		}
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
	}}
	var wg sync.WaitGroup
	results := make([]int, 20)
	errs := make([]error, 20)
	for i := range 20 {
		wg.Go(func() { results[i], errs[i] = c.Do(context.Background(), i+1) })
	}
	time.Sleep(50 * time.Millisecond) // all 20 queue behind the first batch
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
	require.GreaterOrEqual(t, largest.Load(), int32(10), "the calls that queued while a batch ran went together")

	c.Close()
	v, err := c.Do(context.Background(), 4) // after Close: run alone
	require.NoError(t, err)
	require.Equal(t, 8, v)
}
