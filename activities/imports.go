package activities

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/activities/contract"
	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/store"
)

// Imports are the contact-import activities. The workflow carries only the job id; the upload
// and the parsed rows stay in Postgres.
type Imports struct {
	DB store.DBTX
}

// PrepareImport parses the upload into rows once. Repeating it (a retry) re-parses the same
// upload into the same rows.
func (a *Imports) PrepareImport(ctx context.Context, in contract.ImportJob) (contract.PreparedImport, error) {
	job, err := store.ImportJobByID(ctx, a.DB, in.JobID)
	if err != nil {
		return contract.PreparedImport{}, err
	}
	if job.Status == "processing" && job.TotalRows != nil {
		return contract.PreparedImport{TotalRows: *job.TotalRows}, nil
	}
	if job.Status != "pending" {
		return contract.PreparedImport{Failed: true}, nil // finished already
	}
	format, data, err := store.ImportPayload(ctx, a.DB, in.JobID)
	if err != nil {
		return contract.PreparedImport{}, err
	}
	rows, err := ingest.ParseImport(format, data)
	if errors.Is(err, ingest.ErrUnparsable) {
		return contract.PreparedImport{Failed: true}, store.FailImportParse(ctx, a.DB, in.JobID, err.Error())
	}
	if err != nil {
		return contract.PreparedImport{}, err
	}
	err = store.WithTx(ctx, a.DB, func(tx pgx.Tx) error { return store.StoreImportRows(ctx, tx, in.JobID, rows) })
	return contract.PreparedImport{TotalRows: len(rows)}, err
}

// ImportBatch imports rows [Start, Start+ImportBatchSize) and records progress.
func (a *Imports) ImportBatch(ctx context.Context, in contract.ImportBatchInput) error {
	rows, err := store.ImportRowsSlice(ctx, a.DB, in.JobID, in.Start, contract.ImportBatchSize)
	if err != nil {
		return err
	}
	return ingest.ImportRows(ctx, a.DB, in.JobID, in.Start, rows)
}

// FinishImport sets the final status and drops the upload.
func (a *Imports) FinishImport(ctx context.Context, in contract.ImportJob) error {
	return store.FinishImport(ctx, a.DB, in.JobID)
}
