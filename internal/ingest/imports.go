package ingest

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/internal/contacts"
	"github.com/hogsend/hogsend/internal/outbox"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
)

// ErrUnparsable prefixes every reason an upload cannot be read at all.
var ErrUnparsable = errors.New("Parse error")

// ParseImport reads a contact upload into rows. A document that cannot be read at all is an
// ErrUnparsable error; a row with a wrongly typed field keeps a Problem and fails on its own.
func ParseImport(format, data string) ([]store.ImportRow, error) {
	switch format {
	case "json":
		return parseJSONImport(data)
	case "csv":
		return parseCSVImport(data)
	}
	return nil, fmt.Errorf("%w: unknown format %q", ErrUnparsable, format)
}

func parseJSONImport(data string) ([]store.ImportRow, error) {
	var items []json.RawMessage
	dec := json.NewDecoder(strings.NewReader(data))
	if err := dec.Decode(&items); err != nil {
		return nil, fmt.Errorf("%w: expected a JSON array of contacts: %v", ErrUnparsable, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: unexpected data after the JSON array", ErrUnparsable)
	}
	rows := make([]store.ImportRow, len(items))
	for i, raw := range items {
		rows[i] = store.ImportRow{Index: i}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
			rows[i].Problem = ptr.To("Row is not a JSON object")
			continue
		}
		var problems []string
		text := func(name string) *string {
			raw, ok := fields[name]
			if !ok || string(raw) == "null" {
				return nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				problems = append(problems, name+" must be a string")
				return nil
			}
			if strings.TrimSpace(s) == "" {
				return nil
			}
			return &s
		}
		rows[i].ExternalID, rows[i].Email = text("externalId"), text("email")
		if raw, ok := fields["properties"]; ok && string(raw) != "null" {
			if err := json.Unmarshal(raw, &rows[i].Properties); err != nil || rows[i].Properties == nil {
				problems = append(problems, "properties must be an object")
				rows[i].Properties = nil
			}
		}
		if len(problems) > 0 {
			rows[i].Problem = ptr.To(strings.Join(problems, "; "))
		}
	}
	return rows, nil
}

func parseCSVImport(data string) ([]store.ImportRow, error) {
	r := csv.NewReader(bytes.NewReader([]byte(data)))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: CSV must have an externalId or email column", ErrUnparsable)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnparsable, err)
	}
	extCol, emailCol := -1, -1
	for i, h := range header {
		switch strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")) {
		case "externalId":
			extCol = i
		case "email":
			emailCol = i
		}
	}
	if extCol < 0 && emailCol < 0 {
		return nil, fmt.Errorf("%w: CSV must have an externalId or email column", ErrUnparsable)
	}
	var rows []store.ImportRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnparsable, err)
		}
		row := store.ImportRow{Index: len(rows), Properties: map[string]any{}}
		for i, name := range header {
			cell := ""
			if i < len(rec) {
				cell = rec[i]
			}
			switch i {
			case extCol:
				if strings.TrimSpace(cell) != "" {
					row.ExternalID = ptr.To(cell)
				}
			case emailCol:
				if strings.TrimSpace(cell) != "" {
					row.Email = ptr.To(cell)
				}
			default:
				row.Properties[name] = cell
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// ErrRowWithoutIdentity is the error of a row with neither key.
const ErrRowWithoutIdentity = "Row has neither externalId nor email"

// ImportRows resolves one slice of an import's rows, each in its own savepoint, and records the
// slice's counts in the same transaction. A retried slice whose counts are already recorded
// changes nothing.
func ImportRows(ctx context.Context, db store.DBTX, jobID string, start int, rows []store.ImportRow) error {
	return store.WithTx(ctx, db, func(tx pgx.Tx) error {
		if done, err := store.LockImportProgress(ctx, tx, jobID); err != nil || done != start {
			return err // done != start: this slice was recorded by an earlier attempt
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

// ImportWorkflow describes how an import job is run; the engine wires it to the import
// workflow (ingest does not import workflow code).
type ImportWorkflow struct {
	Type    string
	ID      func(jobID string) string
	Input   func(jobID string) any
	Timeout int // seconds
}

// ErrImportNotFound is returned for an unknown job.
var ErrImportNotFound = errors.New("import job not found")

// StartImport stores the upload as a pending job and, in the same transaction, the intent to
// start its workflow.
func (s *Service) StartImport(ctx context.Context, format string, fileName *string, data string) (store.ImportJob, error) {
	if s.Import.Type == "" {
		return store.ImportJob{}, errors.New("contact import is not configured")
	}
	var job store.ImportJob
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		var err error
		if job, err = store.CreateImportJob(ctx, tx, format, fileName, data); err != nil {
			return err
		}
		arg, err := json.Marshal(s.Import.Input(job.ID))
		if err != nil {
			return err
		}
		_, err = outbox.Append(ctx, tx, []outbox.Intent{outbox.Start(outbox.StartWorkflow{
			WorkflowID: s.Import.ID(job.ID), WorkflowType: s.Import.Type, Args: []json.RawMessage{arg},
			ExecutionTimeoutSeconds: s.Import.Timeout})})
		return err
	})
	if err != nil {
		return store.ImportJob{}, err
	}
	s.kick()
	return job, nil
}

// ImportJob returns a job's progress.
func (s *Service) ImportJob(ctx context.Context, id string) (store.ImportJob, error) {
	j, err := store.ImportJobByID(ctx, s.DB, id)
	if errors.Is(err, store.ErrNotFound) {
		return j, ErrImportNotFound
	}
	return j, err
}
