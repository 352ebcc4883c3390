package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/hogsend/hogsend/activities/contract"
)

// ImportContactsName is the workflow type of ImportContacts; its workflow ID is
// "import-contacts:<jobId>".
const ImportContactsName = "hogsend-import-contacts"

// ImportWorkflowID is the workflow ID of a job's import.
func ImportWorkflowID(jobID string) string { return "import-contacts:" + jobID }

// batchesPerRun bounds one run's history; the import continues as new after that many batches.
const batchesPerRun = 200

// ImportContactsInput names the job and, after a continue-as-new, where to resume.
type ImportContactsInput struct {
	JobID string
	// Next is the first row not yet imported; TotalRows is known once prepared (-1 before).
	Next      int
	TotalRows int
}

// ImportContacts imports a stored upload in batches of 500 rows: parse once, import each slice
// (progress is visible after every batch), then set the final status.
func ImportContacts(ctx workflow.Context, in ImportContactsInput) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 5},
	})
	job := contract.ImportJob{JobID: in.JobID}
	if in.TotalRows < 0 {
		var prep contract.PreparedImport
		if err := workflow.ExecuteActivity(ctx, contract.PrepareImportName, job).Get(ctx, &prep); err != nil {
			return err
		}
		if prep.Failed {
			return nil
		}
		in.TotalRows = prep.TotalRows
	}
	for batch := 0; in.Next < in.TotalRows; batch++ {
		if batch == batchesPerRun {
			return workflow.NewContinueAsNewError(ctx, ImportContactsName, in)
		}
		if err := workflow.ExecuteActivity(ctx, contract.ImportBatchName,
			contract.ImportBatchInput{JobID: in.JobID, Start: in.Next}).Get(ctx, nil); err != nil {
			return err
		}
		in.Next += contract.ImportBatchSize
	}
	return workflow.ExecuteActivity(ctx, contract.FinishImportName, job).Get(ctx, nil)
}
