package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
)

var ruleKeys = []string{"id", "name", "type", "threshold", "channel", "channelConfig", "enabled", "cooldownMinutes", "lastFiredAt"}

func (a *app) alerts() *cobra.Command {
	al := group("alerts", "Alert rules and their history")
	rules := group("rules", "list, create, update, delete")
	list := &cobra.Command{Use: "list", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return a.do(cmd, http.MethodGet, "/v1/admin/alerts/rules", query(cmd, "limit", "offset"), nil, adminKey,
			listOf("rules", "id", "name", "type", "threshold", "channel", "enabled", "lastFiredAt"))
	}}
	paging(list)
	body := func(cmd *cobra.Command) (map[string]any, error) {
		b := map[string]any{}
		f := cmd.Flags()
		for _, name := range []string{"name", "type", "channel"} {
			if f.Changed(name) {
				b[name], _ = f.GetString(name)
			}
		}
		for flag, field := range map[string]string{"threshold": "threshold", "config": "channelConfig"} {
			if f.Changed(flag) {
				raw, _ := f.GetString(flag)
				var v any
				if err := json.Unmarshal([]byte(raw), &v); err != nil {
					return nil, fmt.Errorf("--%s: not JSON: %v", flag, err)
				}
				b[field] = v
			}
		}
		if n, ok := intFlag(cmd, "cooldown"); ok {
			b["cooldownMinutes"] = n
		}
		if f.Changed("enabled") {
			b["enabled"], _ = f.GetBool("enabled")
		}
		return b, nil
	}
	ruleFlags := func(cmd *cobra.Command, create bool) {
		cmd.Flags().String("name", "", "rule name")
		cmd.Flags().String("threshold", "", `JSON: {"rate": 0.05, "windowMinutes": 60}, or a bare number`)
		cmd.Flags().String("config", "", `channel settings as JSON: {"url": …}, {"webhookUrl": …} or {"to": …}`)
		cmd.Flags().Int("cooldown", 60, "minutes between two notifications")
		if create {
			cmd.Flags().String("type", "", "bounce_rate_exceeded, journey_failure_spike, delivery_issue or high_complaint_rate")
			cmd.Flags().String("channel", "", "webhook, slack or email")
		} else {
			cmd.Flags().Bool("enabled", true, "switch the rule on or off")
		}
	}
	create := &cobra.Command{Use: "create", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		b, err := body(cmd)
		if err != nil {
			return err
		}
		return a.do(cmd, http.MethodPost, "/v1/admin/alerts/rules", nil, b, adminKey, objectOf("rule", ruleKeys...))
	}}
	ruleFlags(create, true)
	update := &cobra.Command{Use: "update <id>", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		b, err := body(cmd)
		if err != nil {
			return err
		}
		return a.do(cmd, http.MethodPatch, "/v1/admin/alerts/rules/"+url.PathEscape(args[0]), nil, b, adminKey, objectOf("rule", ruleKeys...))
	}}
	ruleFlags(update, false)
	del := &cobra.Command{Use: "delete <id>", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return a.do(cmd, http.MethodDelete, "/v1/admin/alerts/rules/"+url.PathEscape(args[0]), nil, nil, adminKey, objectOf(""))
	}}
	rules.AddCommand(list, create, update, del)
	history := &cobra.Command{Use: "history", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		q := query(cmd, "from", "to", "limit", "offset")
		if rule, _ := cmd.Flags().GetString("rule"); rule != "" {
			q.Set("ruleId", rule)
		}
		return a.do(cmd, http.MethodGet, "/v1/admin/alerts/history", q, nil, adminKey,
			listOf("history", "createdAt", "alertRuleId", "deliveryStatus", "error", "payload"))
	}}
	history.Flags().String("rule", "", "only this rule's id")
	history.Flags().String("from", "", "RFC 3339 lower bound")
	history.Flags().String("to", "", "RFC 3339 upper bound")
	paging(history)
	al.AddCommand(rules, history)
	return al
}
