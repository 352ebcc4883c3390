package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"
)

// ImportJob is an import_jobs row.
type ImportJob struct {
	ID            string
	FileName      *string
	Format        string
	Status        string
	TotalRows     *int
	ProcessedRows int
	FailedRows    int
	Errors        []ImportRowError // nil when NULL
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// ImportRowError is one stored row error (row is the 0-based data row, 0 for a parse error).
type ImportRowError struct {
	Row   int    `json:"row"`
	Error string `json:"error"`
}

// ImportRow is one parsed row waiting to be imported.
type ImportRow struct {
	Index      int
	ExternalID *string
	Email      *string
	Properties map[string]any
	Problem    *string
}

// MaxImportErrors is how many row errors a job keeps.
const MaxImportErrors = 100

const importJobColumns = `id::text, file_name, format, status::text, total_rows, processed_rows, failed_rows, errors, created_at, updated_at`

func scanImportJob(row pgx.Row) (ImportJob, error) {
	var j ImportJob
	err := row.Scan(&j.ID, &j.FileName, &j.Format, &j.Status, &j.TotalRows, &j.ProcessedRows, &j.FailedRows, &j.Errors, &j.CreatedAt, &j.UpdatedAt)
	return j, interpret(err)
}

// CreateImportJob stores a pending job and its raw upload.
func CreateImportJob(ctx context.Context, db DBTX, format string, fileName *string, data string) (ImportJob, error) {
	j, err := scanImportJob(db.QueryRow(ctx, `INSERT INTO import_jobs (format, file_name) VALUES ($1, $2) RETURNING `+importJobColumns, format, fileName))
	if err != nil {
		return j, err
	}
	_, err = db.Exec(ctx, `INSERT INTO import_job_payloads (job_id, data) VALUES ($1, $2)`, j.ID, data)
	return j, err
}

// ImportJobByID finds a job.
func ImportJobByID(ctx context.Context, db DBTX, id string) (ImportJob, error) {
	return scanImportJob(db.QueryRow(ctx, `SELECT `+importJobColumns+` FROM import_jobs WHERE id = $1`, id))
}

// ImportPayload returns a job's format and raw upload.
func ImportPayload(ctx context.Context, db DBTX, id string) (format, data string, err error) {
	err = db.QueryRow(ctx, `SELECT j.format, p.data FROM import_jobs j JOIN import_job_payloads p ON p.job_id = j.id WHERE j.id = $1`, id).Scan(&format, &data)
	return format, data, interpret(err)
}

// StoreImportRows replaces a job's parsed rows, sets its total and marks it processing.
func StoreImportRows(ctx context.Context, tx pgx.Tx, jobID string, rows []ImportRow) error {
	if _, err := tx.Exec(ctx, `DELETE FROM import_job_rows WHERE job_id = $1`, jobID); err != nil {
		return err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_job_rows"}, []string{"job_id", "row_index", "external_id", "email", "properties", "problem"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			r := rows[i]
			return []any{jobID, r.Index, r.ExternalID, r.Email, r.Properties, r.Problem}, nil
		})); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `UPDATE import_jobs SET status = 'processing', total_rows = $2, updated_at = now() WHERE id = $1`, jobID, len(rows))
	return err
}

// FailImportParse ends a job whose upload could not be parsed, and drops the upload.
func FailImportParse(ctx context.Context, db DBTX, jobID, message string) error {
	errs, _ := json.Marshal([]ImportRowError{{Row: 0, Error: message}})
	if _, err := db.Exec(ctx, `UPDATE import_jobs SET status = 'failed', errors = $2, updated_at = now() WHERE id = $1`, jobID, errs); err != nil {
		return err
	}
	_, err := db.Exec(ctx, `DELETE FROM import_job_payloads WHERE job_id = $1`, jobID)
	return err
}

// ImportRowsSlice reads rows [from, from+n) of a job.
func ImportRowsSlice(ctx context.Context, db DBTX, jobID string, from, n int) ([]ImportRow, error) {
	rows, err := db.Query(ctx, `SELECT row_index, external_id, email, properties, problem FROM import_job_rows
		WHERE job_id = $1 AND row_index >= $2 AND row_index < $3 ORDER BY row_index`, jobID, from, from+n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ImportRow, error) {
		var x ImportRow
		err := r.Scan(&x.Index, &x.ExternalID, &x.Email, &x.Properties, &x.Problem)
		return x, err
	})
}

// RecordImportBatch adds a batch's counts and errors (keeping the first MaxImportErrors) if the
// job's progress is exactly at start; applied is false for a batch already recorded (a retry).
func RecordImportBatch(ctx context.Context, db DBTX, jobID string, start, processed, failed int, errs []ImportRowError) (applied bool, err error) {
	if errs == nil {
		errs = []ImportRowError{} // a JSON array, never null
	}
	body, err := json.Marshal(errs)
	if err != nil {
		return false, err
	}
	tag, err := db.Exec(ctx, `UPDATE import_jobs SET processed_rows = processed_rows + $3, failed_rows = failed_rows + $4,
			errors = CASE WHEN jsonb_array_length($5::jsonb) = 0 THEN errors ELSE (
				SELECT jsonb_agg(e ORDER BY n) FROM (
					SELECT e, n FROM jsonb_array_elements(coalesce(errors, '[]'::jsonb) || $5::jsonb) WITH ORDINALITY AS x(e, n)
					ORDER BY n LIMIT $6) kept) END,
			updated_at = now()
		WHERE id = $1 AND processed_rows + failed_rows = $2`, jobID, start, processed, failed, string(body), MaxImportErrors)
	return tag.RowsAffected() == 1, err
}

// FinishImport sets the final status (failed when every row failed, an empty file included)
// and drops the upload and parsed rows.
func FinishImport(ctx context.Context, db DBTX, jobID string) error {
	if _, err := db.Exec(ctx, `UPDATE import_jobs SET
			status = CASE WHEN failed_rows = coalesce(total_rows, 0) THEN 'failed'::import_job_status ELSE 'completed'::import_job_status END,
			errors = CASE WHEN jsonb_array_length(coalesce(errors, '[]'::jsonb)) = 0 THEN NULL ELSE errors END,
			updated_at = now()
		WHERE id = $1 AND status = 'processing'`, jobID); err != nil {
		return err
	}
	if _, err := db.Exec(ctx, `DELETE FROM import_job_rows WHERE job_id = $1`, jobID); err != nil {
		return err
	}
	_, err := db.Exec(ctx, `DELETE FROM import_job_payloads WHERE job_id = $1`, jobID)
	return err
}

// LockImportProgress locks a job row and returns how many rows it has recorded.
func LockImportProgress(ctx context.Context, tx pgx.Tx, jobID string) (int, error) {
	var done int
	err := tx.QueryRow(ctx, `SELECT processed_rows + failed_rows FROM import_jobs WHERE id = $1 FOR UPDATE`, jobID).Scan(&done)
	return done, interpret(err)
}
