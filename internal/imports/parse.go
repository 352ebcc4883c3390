// Package imports runs contact imports: an upload (CSV or JSON) is stored as a job with the
// intent to start its workflow, parsed once into rows, resolved in slices that each record
// their counts, then finished.
package imports

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
)

// ErrUnparsable prefixes every reason an upload cannot be read at all.
var ErrUnparsable = errors.New("Parse error")

// Parse reads a contact upload into rows. A document that cannot be read at all is an
// ErrUnparsable error; a row with a wrongly typed field keeps a Problem and fails on its own.
func Parse(format, data string) ([]store.ImportRow, error) {
	switch format {
	case "json":
		return parseJSON(data)
	case "csv":
		return parseCSV(data)
	}
	return nil, fmt.Errorf("%w: unknown format %q", ErrUnparsable, format)
}

func parseJSON(data string) ([]store.ImportRow, error) {
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

func parseCSV(data string) ([]store.ImportRow, error) {
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
