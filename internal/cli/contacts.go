package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

func (a *app) contacts() *cobra.Command {
	c := group("contacts", "Contacts: list, get, timeline, upsert, import, export")
	list := &cobra.Command{Use: "list", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return a.do(cmd, http.MethodGet, "/v1/admin/contacts", query(cmd, "search", "limit", "offset"), nil, adminKey,
			listOf("contacts", "id", "externalId", "email", "lastSeenAt"))
	}}
	list.Flags().String("search", "", "email or external id contains")
	paging(list)
	get := &cobra.Command{Use: "get <id>", Short: "By uuid or external id", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return a.do(cmd, http.MethodGet, "/v1/admin/contacts/"+url.PathEscape(args[0]), nil, nil, adminKey, objectOf("contact"))
	}}
	timeline := &cobra.Command{Use: "timeline <id>", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return a.do(cmd, http.MethodGet, "/v1/admin/contacts/"+url.PathEscape(args[0])+"/timeline", query(cmd, "type", "limit", "offset"),
			nil, adminKey, listOf("timeline", "timestamp", "type", "data"))
	}}
	timeline.Flags().String("type", "", "event, journey or email")
	paging(timeline)
	upsert := &cobra.Command{Use: "upsert", Short: "Create or update a contact (data key)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := personBody(cmd, map[string]any{})
			if err != nil {
				return err
			}
			p, err := propsFlags(cmd, "prop", "props")
			if err != nil {
				return err
			}
			setIf(body, "properties", p)
			lists := map[string]any{}
			on, _ := cmd.Flags().GetStringArray("list")
			off, _ := cmd.Flags().GetStringArray("unlist")
			for _, id := range on {
				lists[id] = true
			}
			for _, id := range off {
				lists[id] = false
			}
			setIf(body, "lists", lists)
			return a.do(cmd, http.MethodPut, "/v1/contacts", nil, body, dataKey, objectOf("", "id", "created", "linked"))
		}}
	personFlags(upsert)
	upsert.Flags().StringArray("prop", nil, "property key=value (repeatable; JSON values parsed, null removes)")
	upsert.Flags().String("props", "", "properties as a JSON object")
	upsert.Flags().StringArray("list", nil, "subscribe to this list (repeatable)")
	upsert.Flags().StringArray("unlist", nil, "unsubscribe from this list (repeatable)")
	c.AddCommand(list, get, timeline, upsert, a.contactsImport(), a.contactsExport())
	return c
}

// contactsImport uploads a CSV or JSON file and follows the import job with a progress bar.
func (a *app) contactsImport() *cobra.Command {
	cmd := &cobra.Command{Use: "import FILE", Short: "Import contacts from a .csv or .json file", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			format, _ := cmd.Flags().GetString("format")
			if format == "" {
				format = strings.TrimPrefix(strings.ToLower(filepath.Ext(args[0])), ".")
			}
			if format != "csv" && format != "json" {
				return fmt.Errorf("%s: pass --format csv or json", args[0])
			}
			raw, err := a.c.call(cmd.Context(), http.MethodPost, "/v1/admin/contacts/import", nil,
				map[string]any{"format": format, "data": string(data), "fileName": filepath.Base(args[0])}, adminKey)
			if err != nil {
				return err
			}
			var started struct{ JobID string }
			if err := json.Unmarshal(raw, &started); err != nil {
				return err
			}
			job, err := a.followImport(cmd.Context(), started.JobID)
			if err != nil {
				return err
			}
			if err := a.show(job, objectOf("", "id", "status", "totalRows", "processedRows", "failedRows", "errors")); err != nil {
				return err
			}
			var j struct{ Status string }
			_ = json.Unmarshal(job, &j)
			if j.Status != "completed" {
				return errors.New("import " + j.Status)
			}
			return nil
		}}
	cmd.Flags().String("format", "", "csv or json (default: from the file's extension)")
	return cmd
}

// followImport polls the job until it ends, drawing its progress unless --json.
func (a *app) followImport(ctx context.Context, id string) (json.RawMessage, error) {
	var bar *progressbar.ProgressBar
	for {
		raw, err := a.c.call(ctx, http.MethodGet, "/v1/admin/contacts/import/"+url.PathEscape(id), nil, nil, adminKey)
		if err != nil {
			return nil, err
		}
		var j struct {
			Status                   string
			TotalRows, ProcessedRows int
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, err
		}
		if !a.asJSON && j.TotalRows > 0 {
			if bar == nil {
				bar = progressbar.NewOptions(j.TotalRows, progressbar.OptionSetWriter(a.stderr), progressbar.OptionSetDescription("importing"),
					progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("rows"),
					progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
			}
			_ = bar.Set(j.ProcessedRows)
		}
		if j.Status == "completed" || j.Status == "failed" {
			if bar != nil {
				_ = bar.Finish()
			}
			return raw, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// contactsExport streams the export to a file or stdout, counting bytes on stderr.
func (a *app) contactsExport() *cobra.Command {
	cmd := &cobra.Command{Use: "export", Short: "Export contacts as CSV or JSON", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := query(cmd, "format", "search", "limit")
			if q.Get("format") == "" {
				q.Set("format", "csv")
			}
			res, err := a.c.request(cmd.Context(), http.MethodGet, "/v1/admin/contacts/export", q, nil, adminKey)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			var out io.Writer = a.stdout
			if path, _ := cmd.Flags().GetString("output"); path != "" {
				f, err := os.Create(path)
				if err != nil {
					return err
				}
				defer f.Close()
				out = f
			}
			var counter io.Writer = io.Discard
			if !a.asJSON {
				bar := progressbar.NewOptions64(-1, progressbar.OptionSetWriter(a.stderr), progressbar.OptionSetDescription("exporting"),
					progressbar.OptionShowBytes(true), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
				defer func() { _ = bar.Finish() }()
				counter = bar
			}
			if _, err := io.Copy(io.MultiWriter(out, counter), res.Body); err != nil {
				return fmt.Errorf("cannot reach %s (%s)", a.c.BaseURL, reason(err))
			}
			return nil
		}}
	cmd.Flags().String("format", "csv", "csv or json")
	cmd.Flags().String("search", "", "email or external id contains")
	cmd.Flags().Int("limit", 100000, "at most this many contacts")
	cmd.Flags().StringP("output", "o", "", "write to this file (default stdout)")
	return cmd
}
