package activities

import (
	"context"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/internal/imports"
)

// Imports are the contact-import activities. The workflow carries only the job id; the upload
// and the parsed rows stay in Postgres.
type Imports struct {
	Imports *imports.Service
}

// PrepareImport parses the upload into rows once. Repeating it (a retry) re-parses the same
// upload into the same rows.
func (a *Imports) PrepareImport(ctx context.Context, in contract.ImportJob) (contract.PreparedImport, error) {
	total, done, err := a.Imports.Prepare(ctx, in.JobID)
	return contract.PreparedImport{TotalRows: total, Failed: done}, err
}

// ImportBatch imports rows [Start, Start+ImportBatchSize) and records progress.
func (a *Imports) ImportBatch(ctx context.Context, in contract.ImportBatchInput) error {
	return a.Imports.ApplySlice(ctx, in.JobID, in.Start, contract.ImportBatchSize)
}

// FinishImport sets the final status and drops the upload.
func (a *Imports) FinishImport(ctx context.Context, in contract.ImportJob) error {
	return a.Imports.Finish(ctx, in.JobID)
}
