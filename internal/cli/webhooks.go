package cli

import (
	"net/http"
	"net/url"

	"github.com/spf13/cobra"
)

var endpointKeys = []string{"id", "url", "eventTypes", "description", "status", "secret", "secretPrefix", "lastDeliveryAt", "createdAt"}

func (a *app) webhooks() *cobra.Command {
	w := group("webhooks", "Outbound webhook endpoints")
	list := &cobra.Command{Use: "list", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return a.do(cmd, http.MethodGet, "/v1/admin/webhooks", query(cmd, "include-disabled", "limit", "offset"), nil, adminKey,
			listOf("endpoints", "id", "url", "eventTypes", "status", "lastDeliveryAt"))
	}}
	list.Flags().String("include-disabled", "", "true: disabled endpoints too")
	paging(list)
	get := &cobra.Command{Use: "get <id>", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return a.do(cmd, http.MethodGet, "/v1/admin/webhooks/"+url.PathEscape(args[0]), nil, nil, adminKey, objectOf("", endpointKeys...))
	}}
	body := func(cmd *cobra.Command) map[string]any {
		b := map[string]any{}
		f := cmd.Flags()
		if f.Changed("url") {
			b["url"], _ = f.GetString("url")
		}
		if f.Changed("events") {
			b["eventTypes"], _ = f.GetStringSlice("events")
		}
		if f.Changed("description") {
			b["description"], _ = f.GetString("description")
		}
		if f.Changed("disabled") {
			b["disabled"], _ = f.GetBool("disabled")
		}
		return b
	}
	endpointFlags := func(cmd *cobra.Command) {
		cmd.Flags().String("url", "", "the receiver's http(s) URL")
		cmd.Flags().StringSlice("events", nil, "comma-separated event types (contact.created, email.sent, …)")
		cmd.Flags().String("description", "", "a note")
		cmd.Flags().Bool("disabled", false, "switched off")
	}
	create := &cobra.Command{Use: "create", Short: "Create an endpoint; its secret is printed once", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.do(cmd, http.MethodPost, "/v1/admin/webhooks", nil, body(cmd), adminKey, objectOf("", endpointKeys...))
		}}
	endpointFlags(create)
	update := &cobra.Command{Use: "update <id>", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return a.do(cmd, http.MethodPatch, "/v1/admin/webhooks/"+url.PathEscape(args[0]), nil, body(cmd), adminKey, objectOf("", endpointKeys...))
	}}
	endpointFlags(update)
	del := &cobra.Command{Use: "delete <id>", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return a.do(cmd, http.MethodDelete, "/v1/admin/webhooks/"+url.PathEscape(args[0]), nil, nil, adminKey, objectOf(""))
	}}
	rotate := &cobra.Command{Use: "rotate-secret <id>", Short: "New secret, printed once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.do(cmd, http.MethodPost, "/v1/admin/webhooks/"+url.PathEscape(args[0])+"/rotate-secret", nil, nil, adminKey,
				objectOf("", "id", "secret", "secretPrefix"))
		}}
	test := &cobra.Command{Use: "test <id>", Short: "Send a webhook.test event", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.do(cmd, http.MethodPost, "/v1/admin/webhooks/"+url.PathEscape(args[0])+"/test", nil, nil, adminKey, objectOf(""))
		}}
	w.AddCommand(list, get, create, update, del, rotate, test)
	return w
}
