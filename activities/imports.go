package activities

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/internal/ingest"
	"github.com/hogsend/hogsend/internal/store"
)

// Registered names of the import activities.
const (
	PrepareImportName = "hogsend-import-prepare"
	ImportBatchName   = "hogsend-import-batch"
	FinishImportName  = "hogsend-import-finish"
)

// ImportBatchSize is how many rows one batch activity imports.
const ImportBatchSize = 500

// Imports are the contact-import activities. The workflow carries only the job id; the upload
// and the parsed rows stay in Postgres.
type Imports struct {
	DB store.DBTX
}

// ImportJob names a job.
type ImportJob struct {
	JobID string
}

// PreparedImport says how many rows to import; Failed means the upload could not be parsed
// (the job is already marked failed).
type PreparedImport struct {
	TotalRows int
	Failed    bool
}

// PrepareImport parses the upload into rows once. Repeating it (a retry) re-parses the same
// upload into the same rows.
func (a *Imports) PrepareImport(ctx context.Context, in ImportJob) (PreparedImport, error) {
	job, err := store.ImportJobByID(ctx, a.DB, in.JobID)
	if err != nil {
		return PreparedImport{}, err
	}
	if job.Status == "processing" && job.TotalRows != nil {
		return PreparedImport{TotalRows: *job.TotalRows}, nil
	}
	if job.Status != "pending" {
		return PreparedImport{Failed: true}, nil // finished already
	}
	format, data, err := store.ImportPayload(ctx, a.DB, in.JobID)
	if err != nil {
		return PreparedImport{}, err
	}
	rows, err := ingest.ParseImport(format, data)
	if errors.Is(err, ingest.ErrUnparsable) {
		return PreparedImport{Failed: true}, store.FailImportParse(ctx, a.DB, in.JobID, err.Error())
	}
	if err != nil {
		return PreparedImport{}, err
	}
	err = pgx.BeginFunc(ctx, a.DB, func(tx pgx.Tx) error { return store.StoreImportRows(ctx, tx, in.JobID, rows) })
	return PreparedImport{TotalRows: len(rows)}, err
}

// ImportBatchInput names one slice of rows.
type ImportBatchInput struct {
	JobID string
	Start int
}

// ImportBatch imports rows [Start, Start+ImportBatchSize) and records progress.
func (a *Imports) ImportBatch(ctx context.Context, in ImportBatchInput) error {
	rows, err := store.ImportRowsSlice(ctx, a.DB, in.JobID, in.Start, ImportBatchSize)
	if err != nil {
		return err
	}
	return ingest.ImportRows(ctx, a.DB, in.JobID, in.Start, rows)
}

// FinishImport sets the final status and drops the upload.
func (a *Imports) FinishImport(ctx context.Context, in ImportJob) error {
	return store.FinishImport(ctx, a.DB, in.JobID)
}
