package cli

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

func (a *app) campaigns() *cobra.Command {
	c := group("campaigns", "Send a campaign, follow its progress")
	send := &cobra.Command{Use: "send", Short: "Send a template to a list or a bucket (data key)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			list, _ := f.GetString("list")
			bucket, _ := f.GetString("bucket")
			if (list == "") == (bucket == "") {
				return errors.New("pass exactly one audience: --list or --bucket")
			}
			template, _ := f.GetString("template")
			if template == "" {
				return errors.New("pass --template")
			}
			body := map[string]any{"template": template}
			setIf(body, "list", list)
			setIf(body, "bucket", bucket)
			p, err := propsFlags(cmd, "prop", "props")
			if err != nil {
				return err
			}
			setIf(body, "props", p)
			for _, name := range []string{"name", "from", "subject", "idempotency-key", "scheduled-at"} {
				if v, _ := f.GetString(name); v != "" {
					body[camel(name)] = v
				}
			}
			if local, _ := f.GetBool("local-time"); local {
				body["localTime"] = true
			}
			if n, ok := intFlag(cmd, "sends-per-second"); ok {
				body["sendsPerSecond"] = n
			}
			raw, err := a.c.call(cmd.Context(), http.MethodPost, "/v1/campaigns", nil, body, dataKey)
			if err != nil {
				return err
			}
			if watch, _ := f.GetBool("watch"); !watch {
				return a.show(raw, objectOf("", "campaignId", "status"))
			}
			var started struct{ CampaignID string }
			if err := json.Unmarshal(raw, &started); err != nil {
				return err
			}
			return a.campaignStatus(cmd.Context(), started.CampaignID, true)
		}}
	sf := send.Flags()
	sf.String("list", "", "audience: a list id")
	sf.String("bucket", "", "audience: a bucket id")
	sf.String("template", "", "template key")
	sf.StringArray("prop", nil, "template prop key=value (repeatable)")
	sf.String("props", "", "template props as a JSON object")
	for _, name := range []string{"name", "from", "subject", "idempotency-key", "scheduled-at"} {
		sf.String(name, "", name)
	}
	sf.Bool("local-time", false, "send at scheduled-at in each recipient's time zone")
	sf.Int("sends-per-second", 0, "pace of this campaign")
	sf.Bool("watch", false, "follow the campaign with a progress bar until it ends")
	status := &cobra.Command{Use: "status <id>", Short: "A campaign's status and counts", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			watch, _ := cmd.Flags().GetBool("watch")
			return a.campaignStatus(cmd.Context(), args[0], watch)
		}}
	status.Flags().Bool("watch", false, "follow the campaign with a progress bar until it ends")
	c.AddCommand(send, status)
	return c
}

type campaignView struct {
	Status                                                string
	TotalRecipients, SentCount, SkippedCount, FailedCount int
}

func (v campaignView) finished() bool {
	return v.Status == "sent" || v.Status == "failed" || v.Status == "cancelled"
}

// campaignStatus shows a campaign; watching, it first draws a bar of the recipients handled
// until the campaign ends (the audience is walked, not counted up front).
func (a *app) campaignStatus(ctx context.Context, id string, watch bool) error {
	get := func() (json.RawMessage, campaignView, error) {
		raw, err := a.c.call(ctx, http.MethodGet, "/v1/campaigns/"+url.PathEscape(id), nil, nil, dataKey)
		var v campaignView
		if err == nil {
			err = json.Unmarshal(raw, &v)
		}
		return raw, v, err
	}
	raw, v, err := get()
	if err != nil {
		return err
	}
	if watch && !v.finished() {
		var bar *progressbar.ProgressBar
		if !a.asJSON {
			bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(a.stderr), progressbar.OptionSetDescription("sending"),
				progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("mails"),
				progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
		}
		for !v.finished() {
			if bar != nil {
				_ = bar.Set(v.SentCount + v.SkippedCount + v.FailedCount)
				bar.Describe(v.Status)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
			if raw, v, err = get(); err != nil {
				return err
			}
		}
		if bar != nil {
			_ = bar.Finish()
		}
	}
	return a.show(raw, objectOf("", "id", "name", "status", "audienceKind", "audienceId", "templateKey", "totalRecipients",
		"sentCount", "skippedCount", "failedCount", "scheduledAt", "startedAt", "completedAt", "pausedReason"))
}
