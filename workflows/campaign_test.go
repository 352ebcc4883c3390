package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/workflows"
)

// fakeCampaign is a campaigns row as the send's activities see it: a status that tests change
// from outside (as the control routes do), a schedule, and a script of send results.
type fakeCampaign struct {
	mu          sync.Mutex
	status      string
	scheduledAt *time.Time
	localTime   string
	sends       []contract.CampaignProgress // what each send activity returns, in turn
	inputs      []contract.SendPagesInput
	sentAt      []time.Time // the workflow clock at each send activity (with clock set)
	clock       func() time.Time
	begins      []contract.BeginCampaignInput
	sent        int
	completed   int
}

func (f *fakeCampaign) set(status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = status
}

func (f *fakeCampaign) register(env *testsuite.TestWorkflowEnvironment) {
	env.RegisterWorkflowWithOptions(workflows.SendCampaign, workflow.RegisterOptions{Name: workflows.SendCampaignName})
	env.RegisterActivityWithOptions(f.begin, activity.RegisterOptions{Name: contract.BeginCampaignName})
	env.RegisterActivityWithOptions(f.send, activity.RegisterOptions{Name: contract.SendCampaignName})
	env.RegisterActivityWithOptions(f.complete, activity.RegisterOptions{Name: contract.CompleteCampaignName})
}

func (f *fakeCampaign) begin(_ context.Context, in contract.BeginCampaignInput) (contract.CampaignState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.begins = append(f.begins, in)
	if f.status == "queued" || f.status == "scheduled" && !in.AsOf.Before(*f.scheduledAt) {
		f.status = "sending"
	}
	return contract.CampaignState{Status: f.status, ScheduledAt: f.scheduledAt, LocalTime: f.localTime}, nil
}

func (f *fakeCampaign) send(_ context.Context, in contract.SendPagesInput) (contract.CampaignProgress, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inputs = append(f.inputs, in)
	if f.clock != nil {
		f.sentAt = append(f.sentAt, f.clock())
	}
	if f.status != "sending" {
		return contract.CampaignProgress{Status: f.status}, nil
	}
	p := contract.CampaignProgress{Status: "sending"}
	if f.sent < len(f.sends) {
		p = f.sends[f.sent]
	}
	f.sent++
	if p.Status != "" {
		f.status = p.Status
	}
	return p, nil
}

func (f *fakeCampaign) complete(context.Context, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.completed++
	f.status = "sent"
	return nil
}

var campaignInput = contract.CampaignInput{CampaignID: "00000000-0000-4000-8000-000000000010"}

func TestACampaignWaitsForItsTimeThenSendsUntilDone(t *testing.T) {
	t.Parallel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	at := env.Now().Add(24 * time.Hour)
	f := &fakeCampaign{status: "scheduled", scheduledAt: &at,
		sends: []contract.CampaignProgress{{Status: "sending", Pages: 50}, {Done: true, Status: "sending", Pages: 3}}}
	f.register(env)
	env.ExecuteWorkflow(workflows.SendCampaignName, campaignInput)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, 2, f.sent, "a send out of budget is followed by the next")
	require.Equal(t, 1, f.completed)
	require.Len(t, f.begins, 2)
	require.True(t, f.begins[0].Revive, "a fresh run may revive a given-up campaign")
	require.False(t, f.begins[1].Revive)
	require.False(t, f.begins[1].AsOf.Before(at), "it began at its time, on the workflow's clock")
}

func TestACancelWhileScheduledEndsTheRunWithoutSending(t *testing.T) {
	t.Parallel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	at := env.Now().Add(7 * 24 * time.Hour)
	f := &fakeCampaign{status: "scheduled", scheduledAt: &at}
	f.register(env)
	env.RegisterDelayedCallback(func() {
		f.set("cancelled")
		env.SignalWorkflow(contract.CampaignControlSignal, nil)
	}, time.Hour)
	env.ExecuteWorkflow(workflows.SendCampaignName, campaignInput)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Zero(t, f.sent)
	require.Zero(t, f.completed)
	require.Less(t, env.Now().Sub(at), time.Duration(0), "it ended on the signal, not at the scheduled time")
}

func TestAPausedCampaignWaitsForItsResume(t *testing.T) {
	t.Parallel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	f := &fakeCampaign{status: "queued", sends: []contract.CampaignProgress{{Status: "paused"}, {Done: true, Status: "sending"}}}
	f.register(env)
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		require.Equal(t, 1, f.sent, "nothing is sent while paused")
		f.mu.Unlock()
		f.set("sending")
		env.SignalWorkflow(contract.CampaignControlSignal, nil)
	}, 48*time.Hour)
	env.ExecuteWorkflow(workflows.SendCampaignName, campaignInput)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, 2, f.sent)
	require.Equal(t, 1, f.completed)
}

func TestALongCampaignContinuesAsNew(t *testing.T) {
	t.Parallel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	f := &fakeCampaign{status: "queued"} // every send runs out of budget
	f.register(env)
	env.ExecuteWorkflow(workflows.SendCampaignName, campaignInput)
	require.True(t, env.IsWorkflowCompleted())
	var cont *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &cont), "%v", env.GetWorkflowError())
	require.Equal(t, 200, f.sent)
	require.Zero(t, f.completed)
}

func TestALocalTimeCampaignSendsEachWaveAtItsTime(t *testing.T) {
	t.Parallel()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	start := env.Now()
	f := &fakeCampaign{status: "queued", localTime: "09:00",
		sends: []contract.CampaignProgress{{Done: true, Status: "sending"}, {Done: true, Status: "sending"}}, clock: env.Now}
	f.register(env)
	waves := []contract.CampaignWave{
		{At: start.Add(3 * time.Hour), Zones: []string{"Asia/Tokyo"}},
		{At: start.Add(10 * time.Hour), Zones: []string{"", "Europe/Berlin"}, Rest: true},
	}
	env.RegisterActivityWithOptions(func(context.Context, contract.PlanWavesInput) ([]contract.CampaignWave, error) { return waves, nil },
		activity.RegisterOptions{Name: contract.PlanCampaignName})
	env.ExecuteWorkflow(workflows.SendCampaignName, campaignInput)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, 1, f.completed)
	require.Len(t, f.inputs, 2)
	for i, in := range f.inputs {
		require.Equal(t, i, in.WaveIndex)
		require.Equal(t, waves[i].Zones, in.Wave.Zones)
		require.Equal(t, []string{"Asia/Tokyo", "", "Europe/Berlin"}, in.Planned)
		require.False(t, f.sentAt[i].Before(waves[i].At), "wave %d went at its time", i)
	}
}
