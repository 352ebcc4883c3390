package imports

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/internal/contacts"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
)

// Workflow describes how an import job is run; the engine wires it to the import workflow
// (this package does not import workflow code).
type Workflow struct {
	Type    string
	ID      func(jobID string) string
	Input   func(jobID string) any
	Timeout int // seconds
}

// Service runs contact imports against a database.
type Service struct {
	DB       store.DBTX
	Outbox   outbox.Kicker // nil: the start waits for the dispatcher's sweep
	Workflow Workflow
}

// ErrNotFound is returned for an unknown job.
var ErrNotFound = errors.New("import job not found")

// ErrRowWithoutIdentity is the error of a row with neither key.
const ErrRowWithoutIdentity = "Row has neither externalId nor email"

// Start stores the upload as a pending job and, in the same transaction, the intent to start
// its workflow.
func (s *Service) Start(ctx context.Context, format string, fileName *string, data string) (store.ImportJob, error) {
	if s.Workflow.Type == "" {
		return store.ImportJob{}, errors.New("contact import is not configured")
	}
	var job store.ImportJob
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		var err error
		if job, err = store.CreateImportJob(ctx, tx, format, fileName, data); err != nil {
			return err
		}
		arg, err := json.Marshal(s.Workflow.Input(job.ID))
		if err != nil {
			return err
		}
		_, err = outbox.Append(ctx, tx, []outbox.Intent{outbox.Start(outbox.StartWorkflow{
			WorkflowID: s.Workflow.ID(job.ID), WorkflowType: s.Workflow.Type, Args: []json.RawMessage{arg},
			ExecutionTimeoutSeconds: s.Workflow.Timeout})})
		return err
	})
	if err != nil {
		return store.ImportJob{}, err
	}
	if s.Outbox != nil {
		s.Outbox.Kick()
	}
	return job, nil
}

// Job returns a job's progress.
func (s *Service) Job(ctx context.Context, id string) (store.ImportJob, error) {
	j, err := store.ImportJobByID(ctx, s.DB, id)
	if errors.Is(err, store.ErrNotFound) {
		return j, ErrNotFound
	}
	return j, err
}

// Prepare parses a pending job's upload into stored rows once and returns their number;
// repeating it (a retry) answers from what is stored. done: the job has finished already
// (an earlier run, or an upload that cannot be parsed, which fails the job).
func (s *Service) Prepare(ctx context.Context, jobID string) (totalRows int, done bool, err error) {
	job, err := store.ImportJobByID(ctx, s.DB, jobID)
	if err != nil {
		return 0, false, err
	}
	if job.Status == "processing" && job.TotalRows != nil {
		return *job.TotalRows, false, nil
	}
	if job.Status != "pending" {
		return 0, true, nil
	}
	format, data, err := store.ImportPayload(ctx, s.DB, jobID)
	if err != nil {
		return 0, false, err
	}
	rows, err := Parse(format, data)
	if errors.Is(err, ErrUnparsable) {
		return 0, true, store.FailImportParse(ctx, s.DB, jobID, err.Error())
	}
	if err != nil {
		return 0, false, err
	}
	err = store.WithTx(ctx, s.DB, func(tx pgx.Tx) error { return store.StoreImportRows(ctx, tx, jobID, rows) })
	return len(rows), false, err
}

// ApplySlice resolves the stored rows [start, start+size), each in its own savepoint, and
// records the slice's counts in the same transaction. A retried slice whose counts are already
// recorded changes nothing.
func (s *Service) ApplySlice(ctx context.Context, jobID string, start, size int) error {
	rows, err := store.ImportRowsSlice(ctx, s.DB, jobID, start, size)
	if err != nil {
		return err
	}
	return store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		if recorded, err := store.LockImportProgress(ctx, tx, jobID); err != nil || recorded != start {
			return err // recorded != start: this slice was recorded by an earlier attempt
		}
		processed, failed := 0, 0
		var errs []store.ImportRowError
		fail := func(row int, msg string) {
			failed++
			if len(errs) < store.MaxImportErrors {
				errs = append(errs, store.ImportRowError{Row: row, Error: msg})
			}
		}
		for _, r := range rows {
			if r.Problem != nil {
				fail(r.Index, *r.Problem)
				continue
			}
			if r.ExternalID == nil && r.Email == nil {
				fail(r.Index, ErrRowWithoutIdentity)
				continue
			}
			in := contacts.Identity{UserID: ptr.Deref(r.ExternalID), Email: ptr.Deref(r.Email), Patch: r.Properties}
			err := store.WithTx(ctx, tx, func(sp pgx.Tx) error {
				_, err := contacts.Resolve(ctx, sp, in)
				return err
			})
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				fail(r.Index, err.Error())
				continue
			}
			processed++
		}
		_, err := store.RecordImportBatch(ctx, tx, jobID, start, processed, failed, errs)
		return err
	})
}

// Finish sets the final status and drops the upload.
func (s *Service) Finish(ctx context.Context, jobID string) error {
	return store.FinishImport(ctx, s.DB, jobID)
}
