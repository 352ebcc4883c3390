package hogsend

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// campaignView is what GET /v1/campaigns/:id answers.
type campaignView struct {
	ID, Name, Status, AudienceKind, AudienceID, TemplateKey string
	TotalRecipients, SentCount, SkippedCount, FailedCount   int
	StartedAt, CompletedAt, ScheduledAt                     *string
	PausedReason                                            *string
	Error                                                   string
}

func (c campaignView) done() int { return c.SentCount + c.SkippedCount + c.FailedCount }

func (c campaignView) finished() bool {
	return c.Status == "sent" || c.Status == "failed" || c.Status == "cancelled"
}

// campaigns is `campaigns status <id> [--watch]`: a campaign read over the API, as any client
// reads it (so it works against a remote engine too).
func (r *runner) campaigns(ctx context.Context, args []string) error {
	if len(args) < 2 || args[0] != "status" {
		return errors.New("usage: campaigns status <id> [--watch] [--url URL] [--key KEY]")
	}
	env := func(name string) string { v, _ := r.opts.lookupEnv()(name); return v }
	fs := flag.NewFlagSet("campaigns status", flag.ContinueOnError)
	fs.SetOutput(r.stderr)
	watch := fs.Bool("watch", false, "follow the campaign with a progress bar until it ends")
	base := fs.String("url", cmp.Or(env("HOGSEND_API_URL"), "http://localhost:3002"), "the engine's API (HOGSEND_API_URL)")
	key := fs.String("key", "", "an API key with the ingest scope (default HOGSEND_API_KEY, else the dev key in .hogsend/admin-key)")
	id := args[1]
	if err := fs.Parse(args[2:]); err != nil {
		return err
	}
	token := cmp.Or(*key, env("HOGSEND_API_KEY"), r.devKey())
	if token == "" {
		return errors.New("no API key: pass --key or set HOGSEND_API_KEY")
	}
	get := func() (campaignView, error) { return fetchCampaign(ctx, strings.TrimRight(*base, "/"), token, id) }
	c, err := get()
	if err != nil {
		return err
	}
	if *watch && !c.finished() {
		// The audience is walked, not counted up front: the bar counts recipients handled.
		bar := progressbar.NewOptions(-1, progressbar.OptionSetWriter(r.stderr), progressbar.OptionSetDescription("sending"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("mails"),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
		for !c.finished() {
			_ = bar.Set(c.done())
			bar.Describe(c.Status)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
			if c, err = get(); err != nil {
				return err
			}
		}
		_ = bar.Finish()
	}
	fmt.Fprintf(r.stdout, "%s  %s  (%s %s, template %s)\n", c.ID, c.Status, c.AudienceKind, c.AudienceID, c.TemplateKey)
	fmt.Fprintf(r.stdout, "recipients %d: sent %d, skipped %d, failed %d\n", c.TotalRecipients, c.SentCount, c.SkippedCount, c.FailedCount)
	for label, v := range map[string]*string{"scheduled": c.ScheduledAt, "started": c.StartedAt, "completed": c.CompletedAt, "paused": c.PausedReason} {
		if v != nil {
			fmt.Fprintf(r.stdout, "%s: %s\n", label, *v)
		}
	}
	return nil
}

func fetchCampaign(ctx context.Context, base, token, id string) (campaignView, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/campaigns/"+id, nil)
	if err != nil {
		return campaignView{}, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return campaignView{}, err
	}
	defer res.Body.Close()
	var c campaignView
	if err := json.NewDecoder(res.Body).Decode(&c); err != nil {
		return c, fmt.Errorf("GET /v1/campaigns/%s: %d: %w", id, res.StatusCode, err)
	}
	if res.StatusCode != http.StatusOK {
		return c, fmt.Errorf("GET /v1/campaigns/%s: %d %s", id, res.StatusCode, c.Error)
	}
	return c, nil
}

// devKey is the admin key `dev` keeps, when there is one.
func (r *runner) devKey() string {
	raw, err := os.ReadFile(filepath.Join(r.devDir(), "admin-key"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(raw))
}
