package journeys_test

import (
	"context"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/example/buckets"
	"github.com/hogsend/hogsend/example/journeys"
	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/journeytest"
	"github.com/hogsend/hogsend/worker"
	"github.com/hogsend/hogsend/worker/workertest"
	"github.com/hogsend/hogsend/workflows"
)

var record = flag.Bool("record", false, "re-record testdata/<journey>.json histories on the in-process Temporal server")

func historyFile(id string) string { return filepath.Join("testdata", id+".json") }

// shipped is every journey the example app ships: its own and its buckets' reactions.
func shipped() []*journey.Journey {
	all := journeys.All()
	for _, b := range buckets.All() {
		for _, r := range b.Reactions() {
			all = append(all, r.Journey)
		}
	}
	return all
}

// TestReplayJourneyHistories replays the recorded history of every shipped journey against its
// current code: a change that would break runs in flight fails here.
func TestReplayJourneyHistories(t *testing.T) {
	t.Parallel()
	for _, j := range shipped() {
		t.Run(j.ID, func(t *testing.T) {
			t.Parallel()
			require.FileExists(t, historyFile(j.ID), "record it with: go test ./example/journeys -run TestRecordJourneyHistories -record")
			journeytest.Replay(t, j, historyFile(j.ID))
		})
	}
}

// TestReplayCatchesAChangedJourney: inserting a step before the first one is not replay-safe.
func TestReplayCatchesAChangedJourney(t *testing.T) {
	t.Parallel()
	changed := *journeys.ActivationWelcome
	changed.Run = func(ctx journey.Context, u journey.User) error {
		if err := ctx.Checkpoint("new-first-step"); err != nil {
			return err
		}
		return journeys.ActivationWelcome.Run(ctx, u)
	}
	err := journeytest.ReplayFile(&changed, historyFile(changed.ID))
	require.ErrorContains(t, err, "but history event found") // TMPRL1100, the SDK's non-determinism error

	// The same change behind Patched replays.
	patched := *journeys.ActivationWelcome
	patched.Run = func(ctx journey.Context, u journey.User) error {
		if ctx.Patched("welcome-first-step") {
			if err := ctx.Checkpoint("new-first-step"); err != nil {
				return err
			}
		}
		return journeys.ActivationWelcome.Run(ctx, u)
	}
	require.NoError(t, journeytest.ReplayFile(&patched, historyFile(patched.ID)))
}

// compressTime shortens every timer while recording (a day becomes 10 ms), so journeys that
// sleep for weeks record in seconds. Replay compares timer ids, not durations, so the history is
// that of the real code.
type compressTime struct {
	interceptor.WorkerInterceptorBase
}

func (*compressTime) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	return &compressInbound{WorkflowInboundInterceptorBase: interceptor.WorkflowInboundInterceptorBase{Next: next}}
}

type compressInbound struct {
	interceptor.WorkflowInboundInterceptorBase
}

func (c *compressInbound) Init(out interceptor.WorkflowOutboundInterceptor) error {
	return c.Next.Init(&compressOutbound{WorkflowOutboundInterceptorBase: interceptor.WorkflowOutboundInterceptorBase{Next: out}})
}

type compressOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
}

func (c *compressOutbound) NewTimer(ctx workflow.Context, d time.Duration) workflow.Future {
	return c.Next.NewTimer(ctx, max(d/8_640_000, time.Millisecond))
}

func (c *compressOutbound) NewTimerWithOptions(ctx workflow.Context, d time.Duration, opts workflow.TimerOptions) workflow.Future {
	return c.Next.NewTimerWithOptions(ctx, max(d/8_640_000, time.Millisecond), opts)
}

// TestRecordJourneyHistories runs every shipped journey on the in-process server with its
// activities faked (nobody has any events, so each takes its default path) and writes its
// history. It only runs with -record.
func TestRecordJourneyHistories(t *testing.T) {
	if !*record {
		t.Skip("pass -record to re-record journey histories")
	}
	c := workertest.Client(t)
	require.NoError(t, worker.EnsureSearchAttributes(context.Background(), c, workertest.Server(t).GetDefaultNamespace()))
	queue := workertest.TaskQueue(t)
	w := sdkworker.New(c, queue, sdkworker.Options{DisableRegistrationAliasing: true, Interceptors: []interceptor.WorkerInterceptor{&compressTime{}}})
	for _, j := range shipped() {
		w.RegisterWorkflowWithOptions(workflows.JourneyWorkflow(j), workflow.RegisterOptions{Name: journey.WorkflowName(j.ID)})
	}
	for name, fn := range map[string]any{
		contract.JourneyTransitionName: func(context.Context, contract.TransitionInput) (contract.TransitionResult, error) {
			return contract.TransitionResult{Applied: true}, nil
		},
		contract.JourneySendName: func(context.Context, contract.SendInput) (journey.SendEmailResult, error) {
			return journey.SendEmailResult{Status: journey.SendSent}, nil
		},
		contract.JourneyTriggerName: func(context.Context, contract.TriggerInput) error { return nil },
		contract.JourneyLookupName: func(context.Context, contract.LookupInput) (contract.LookupResult, error) {
			return contract.LookupResult{}, nil
		},
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	require.NoError(t, w.Start())
	defer w.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, j := range shipped() {
		in := workflows.JourneyInput{StateID: journeytest.StateID, JourneyID: j.ID, UserID: "u1", ContactID: "c1",
			Properties:   map[string]any{"eligible": true, "plan": "pro"},
			TriggerEvent: j.Trigger.Event, EventID: "e1", TriggeredAt: "2026-01-01T00:00:00.000Z", Timezone: "UTC"}
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "record-" + j.ID, TaskQueue: queue}, journey.WorkflowName(j.ID), in)
		require.NoError(t, err)
		var res workflows.JourneyResult
		require.NoError(t, run.Get(ctx, &res))
		require.Equal(t, journey.StatusCompleted, res.Status, j.ID)
		workertest.SaveHistory(t, c, run.GetID(), run.GetRunID(), historyFile(j.ID))
	}
}
