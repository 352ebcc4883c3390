package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// Kinds handled by the Temporal handlers.
const (
	KindStartWorkflow  = "temporal.start"
	KindSignalWorkflow = "temporal.signal"
	KindCancelWorkflow = "temporal.cancel"
)

// StartWorkflow starts a workflow once: its ID is deterministic, and a retry that finds it
// already started counts as done.
type StartWorkflow struct {
	WorkflowID   string            `json:"workflowId"`
	WorkflowType string            `json:"workflowType"`
	TaskQueue    string            `json:"taskQueue,omitempty"` // empty = the engine's queue
	Args         []json.RawMessage `json:"args,omitempty"`
	// ExecutionTimeoutSeconds bounds the whole run, continue-as-new included (0 = none).
	ExecutionTimeoutSeconds int `json:"executionTimeoutSeconds,omitempty"`
}

// SignalWorkflow signals a running workflow; a run that has ended counts as done.
type SignalWorkflow struct {
	WorkflowID string          `json:"workflowId"`
	RunID      string          `json:"runId,omitempty"` // "" = the current run
	Signal     string          `json:"signal"`
	Payload    json.RawMessage `json:"payload,omitempty"`
}

// CancelWorkflow requests cancellation of a run; a run that has ended counts as done.
type CancelWorkflow struct {
	WorkflowID string `json:"workflowId"`
}

// Start, Signal and Cancel build the intents.
func Start(s StartWorkflow) Intent {
	return Intent{Kind: KindStartWorkflow, DedupeKey: "start:" + s.WorkflowID, Payload: s}
}

// Signal builds a signal intent; dedupeKey identifies the cause (e.g. the event id).
func Signal(s SignalWorkflow, dedupeKey string) Intent {
	return Intent{Kind: KindSignalWorkflow, DedupeKey: dedupeKey, Payload: s}
}

// Cancel builds a cancel intent.
func Cancel(workflowID string) Intent {
	return Intent{Kind: KindCancelWorkflow, Payload: CancelWorkflow{WorkflowID: workflowID}}
}

// RegisterTemporal installs the Temporal handlers; taskQueue is the default queue for starts.
func RegisterTemporal(d *Dispatcher, c client.Client, taskQueue string) {
	d.Handle(KindStartWorkflow, func(ctx context.Context, raw json.RawMessage) error {
		var s StartWorkflow
		if err := decode(raw, &s); err != nil {
			return err
		}
		queue := s.TaskQueue
		if queue == "" {
			queue = taskQueue
		}
		args := make([]any, len(s.Args))
		for i, a := range s.Args {
			args[i] = a
		}
		_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:                       s.WorkflowID,
			TaskQueue:                queue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			WorkflowExecutionTimeout: time.Duration(s.ExecutionTimeoutSeconds) * time.Second,
		}, s.WorkflowType, args...)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			return nil
		}
		return err
	})
	d.Handle(KindSignalWorkflow, func(ctx context.Context, raw json.RawMessage) error {
		var s SignalWorkflow
		if err := decode(raw, &s); err != nil {
			return err
		}
		var payload any
		if len(s.Payload) > 0 {
			payload = s.Payload
		}
		return ignoreNotFound(c.SignalWorkflow(ctx, s.WorkflowID, s.RunID, s.Signal, payload))
	})
	d.Handle(KindCancelWorkflow, func(ctx context.Context, raw json.RawMessage) error {
		var s CancelWorkflow
		if err := decode(raw, &s); err != nil {
			return err
		}
		return ignoreNotFound(c.CancelWorkflow(ctx, s.WorkflowID, ""))
	})
}

func decode(raw json.RawMessage, dst any) error {
	if err := json.Unmarshal(raw, dst); err != nil {
		return Permanent(fmt.Errorf("decode intent: %w", err))
	}
	return nil
}

func ignoreNotFound(err error) error {
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	return err
}
