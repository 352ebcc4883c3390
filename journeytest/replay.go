package journeytest

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/journey"
	"github.com/hogsend/hogsend/workflows"
)

// Replay replays a recorded history (JSON, as `temporal workflow show --output json` writes it)
// against j's current code and fails the test on any non-determinism: the check to run before
// shipping a change to a journey with runs in flight.
func Replay(t testing.TB, j *journey.Journey, historyFile string) {
	t.Helper()
	if err := ReplayFile(j, historyFile); err != nil {
		t.Fatalf("replay %s against journey %s: %v", historyFile, j.ID, err)
	}
}

// ReplayFile is Replay returning the error.
func ReplayFile(j *journey.Journey, historyFile string) error {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.JourneyWorkflow(j), workflow.RegisterOptions{Name: journey.WorkflowName(j.ID)})
	return r.ReplayWorkflowHistoryFromJSONFile(nil, historyFile)
}
