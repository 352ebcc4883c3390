package workflows_test

import (
	"context"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/worker/workertest"
	"github.com/hogsend/hogsend/workflows"
)

// recordArgs are the inputs the recorded runs start with.
var recordArgs = map[string][]any{
	workflows.ImportContactsName: {workflows.ImportContactsInput{JobID: "00000000-0000-4000-8000-000000000001", TotalRows: -1}},
	workflows.BucketBackfillName: {workflows.BackfillState{Job: backfillJob}},
	workflows.SendCampaignName:   {campaignInput},
	workflows.DeliverWebhookName: {contract.DeliverWebhookInput{DeliveryID: "00000000-0000-4000-8000-000000000020"}},
	workflows.BucketExpiryName: {contract.Expiry{RowID: "00000000-0000-4000-8000-000000000003", BucketID: "b1", UserKey: "u1",
		ArmedExpiresAt: time.Now().Add(5 * time.Second)}}, // recorded within the 5 s: the history has the timer
}

var record = flag.Bool("record", false, "re-record testdata/<workflow>.json histories on the in-process Temporal server")
var recordOnly = flag.String("record-only", "", "with -record, re-record only this workflow type's history")

func historyFile(name string) string { return filepath.Join("testdata", name+".json") }

// TestReplayRecordedHistories replays the committed history of every built-in workflow against
// the current code: a change that is not replay-safe fails here before it reaches a cluster.
func TestReplayRecordedHistories(t *testing.T) {
	t.Parallel()
	for _, def := range workflows.Builtins {
		t.Run(def.Name, func(t *testing.T) {
			t.Parallel()
			file := historyFile(def.Name)
			require.FileExists(t, file, "record it with: go test ./workflows -run TestRecordHistories -record")
			replayer := worker.NewWorkflowReplayer()
			replayer.RegisterWorkflowWithOptions(def.Func, workflow.RegisterOptions{Name: def.Name})
			require.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(nil, file))
		})
	}
}

// pingThatSkipsTheDatabase is Ping changed in a way that is not replay-safe.
func pingThatSkipsTheDatabase(ctx workflow.Context) (workflows.PingResult, error) {
	if err := workflow.Sleep(ctx, time.Second); err != nil {
		return workflows.PingResult{}, err
	}
	return workflows.PingResult{}, nil
}

func TestReplayCatchesNonDeterministicChange(t *testing.T) {
	t.Parallel()
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(pingThatSkipsTheDatabase, workflow.RegisterOptions{Name: workflows.PingName})
	err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, historyFile(workflows.PingName))
	require.Error(t, err)
	require.Contains(t, err.Error(), "nondeterministic")
}

// TestRecordHistories runs each built-in workflow on the in-process server with its activities
// faked and writes its history. It only runs with -record.
func TestRecordHistories(t *testing.T) {
	if !*record {
		t.Skip("pass -record to re-record workflow histories")
	}
	c := workertest.Client(t)
	queue := workertest.TaskQueue(t)
	w := worker.New(c, queue, worker.Options{DisableRegistrationAliasing: true})
	for _, def := range workflows.Builtins {
		w.RegisterWorkflowWithOptions(def.Func, workflow.RegisterOptions{Name: def.Name})
	}
	// Activities are faked: a history records their results, not how they were computed.
	delivery := &fakeDelivery{clock: time.Now, step: 300 * time.Millisecond} // fails twice, then delivered: two timers
	campaign := &fakeCampaign{status: "scheduled",
		sends: []contract.CampaignProgress{{Status: "sending", Pages: 50}, {Done: true, Status: "sending", Pages: 3}}}
	for name, fn := range map[string]any{
		contract.BeginCampaignName:    campaign.begin,
		contract.SendCampaignName:     campaign.send,
		contract.CompleteCampaignName: campaign.complete,
		contract.ReapCampaignsName: func(context.Context) (contract.ReapResult, error) {
			return contract.ReapResult{Redriven: 1}, nil
		},
		contract.AttemptWebhookDeliveryName: delivery.attempt,
		contract.SweepWebhookDeliveriesName: func(context.Context) (contract.WebhookSweepResult, error) {
			return contract.WebhookSweepResult{Candidates: 1, Redriven: 1}, nil
		},
		contract.CheckAlertsName: func(context.Context) (contract.AlertCheckResult, error) {
			return contract.AlertCheckResult{Evaluated: 2, Fired: 1}, nil
		},
		contract.PingDatabaseName: func(context.Context) (contract.PingDatabaseResult, error) {
			return contract.PingDatabaseResult{Worker: "recorder"}, nil
		},
		contract.PrepareImportName: func(context.Context, contract.ImportJob) (contract.PreparedImport, error) {
			return contract.PreparedImport{TotalRows: 1200}, nil
		},
		contract.ImportBatchName:  func(context.Context, contract.ImportBatchInput) error { return nil },
		contract.FinishImportName: func(context.Context, contract.ImportJob) error { return nil },
		contract.SweepStalledStartsName: func(context.Context) (contract.SweepResult, error) {
			return contract.SweepResult{Redispatched: 1}, nil
		},
		contract.PlanReconcileName:     func(context.Context) ([]contract.ReconcilePlan, error) { return reconcilePlan, nil },
		contract.ReconcilePassName:     fakeReconcilePass,
		contract.BeginBackfillName:     func(context.Context, contract.BackfillInput) (bool, error) { return true, nil },
		contract.BackfillJoinPageName:  fakeBackfillPage,
		contract.BackfillLeavePageName: fakeBackfillPage,
		contract.FinishBackfillName:    func(context.Context, contract.BackfillEnd) error { return nil },
		contract.FailBackfillName:      func(context.Context, contract.BackfillEnd) error { return nil },
		contract.ExpireMembershipName: func(context.Context, contract.Expiry) (contract.ExpiryResult, error) {
			return contract.ExpiryResult{Outcome: "left"}, nil
		},
	} {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	require.NoError(t, w.Start())
	defer w.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, def := range workflows.Builtins {
		if *recordOnly != "" && def.Name != *recordOnly {
			continue
		}
		if def.Name == workflows.SendCampaignName { // its history has the scheduled wait
			soon := time.Now().Add(2 * time.Second)
			campaign.scheduledAt = &soon
		}
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "record-" + def.Name, TaskQueue: queue}, def.Name, recordArgs[def.Name]...)
		require.NoError(t, err)
		require.NoError(t, run.Get(ctx, nil))
		workertest.SaveHistory(t, c, run.GetID(), run.GetRunID(), historyFile(def.Name))
	}
}
