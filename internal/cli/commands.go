package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Env is how the commands read the environment (and a dev stack's admin key, last).
type Env struct {
	Lookup func(string) (string, bool)
	// DotEnv is the .env file read after the environment ("" = ./.env).
	DotEnv string
	// DevKey is the admin key a local `dev` stack keeps ("" = none).
	DevKey func() string
}

// Commands are the top-level names this package serves.
var Commands = []string{"doctor", "stats", "journeys", "contacts", "events", "emails", "campaigns", "webhooks", "keys",
	"audit", "alerts", "dlq"}

// app is one invocation: its settings, output and client.
type app struct {
	env            Env
	stdout, stderr io.Writer
	asJSON         bool
	flags          Settings // as given on the command line
	c              *client
}

// Execute runs one operator command (args start at the command name) and returns the exit
// code: 0 on success, 1 on any failure.
func Execute(ctx context.Context, args []string, stdout, stderr io.Writer, env Env) int {
	a := &app{env: env, stdout: stdout, stderr: stderr}
	root := a.root()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{Use: "hogsend", SilenceUsage: true, SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) { a.settle() }}
	pf := root.PersistentFlags()
	pf.StringVar(&a.flags.BaseURL, "url", "", "the engine's API (HOGSEND_API_URL, default http://localhost:3002)")
	pf.StringVar(&a.flags.AdminKey, "admin-key", "", "key for admin commands (HOGSEND_ADMIN_KEY, ADMIN_API_KEY)")
	pf.StringVar(&a.flags.DataKey, "data-key", "", "key for data-plane writes (HOGSEND_DATA_KEY, HOGSEND_API_KEY)")
	pf.BoolVar(&a.asJSON, "json", false, "print exactly one JSON document")
	root.AddCommand(a.doctor(), a.stats(), a.journeys(), a.contacts(), a.events(), a.emails(), a.campaigns(),
		a.webhooks(), a.keys(), a.audit(), a.alerts(), a.dlq())
	return root
}

// settle resolves the settings: flags, then the environment, then ./.env (then the dev key).
func (a *app) settle() {
	dot := readDotEnv(cmp.Or(a.env.DotEnv, ".env"))
	get := func(names ...string) string {
		for _, n := range names {
			if v, ok := a.env.Lookup(n); ok && strings.TrimSpace(v) != "" {
				return strings.TrimSpace(v)
			}
		}
		for _, n := range names {
			if v := dot[n]; v != "" {
				return v
			}
		}
		return ""
	}
	s := Settings{
		BaseURL:  cmp.Or(a.flags.BaseURL, get("HOGSEND_API_URL"), "http://localhost:3002"),
		AdminKey: cmp.Or(a.flags.AdminKey, get("HOGSEND_ADMIN_KEY", "ADMIN_API_KEY")),
		DataKey:  cmp.Or(a.flags.DataKey, get("HOGSEND_DATA_KEY", "HOGSEND_API_KEY")),
	}
	if s.AdminKey == "" && a.env.DevKey != nil {
		s.AdminKey = a.env.DevKey()
	}
	if s.DataKey == "" {
		s.DataKey = s.AdminKey // full-admin implies ingest
	}
	s.BaseURL = strings.TrimRight(s.BaseURL, "/")
	a.c = &client{Settings: s, http: &http.Client{Timeout: 60 * time.Second}}
}

// show prints an answer: the document itself with --json, else the human rendering.
func (a *app) show(raw json.RawMessage, human func(w io.Writer, v map[string]any)) error {
	if a.asJSON {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return err
		}
		out, _ := json.MarshalIndent(v, "", "  ")
		fmt.Fprintln(a.stdout, string(out))
		return nil
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	human(a.stdout, v)
	return nil
}

// do is one call whose answer is shown.
func (a *app) do(cmd *cobra.Command, method, path string, q url.Values, body any, key keyKind, human func(io.Writer, map[string]any)) error {
	raw, err := a.c.call(cmd.Context(), method, path, q, body, key)
	if err != nil {
		return err
	}
	return a.show(raw, human)
}

// listOf renders the array under field as a table of cols, with the total when there is one.
func listOf(field string, cols ...string) func(io.Writer, map[string]any) {
	return func(w io.Writer, v map[string]any) {
		items, _ := v[field].([]any)
		table(w, items, cols)
		if total, ok := v["total"].(float64); ok {
			fmt.Fprintf(w, "%d of %d\n", len(items), int(total))
		}
	}
}

// objectOf renders the object under field (or v itself when field is "") as key: value lines.
func objectOf(field string, keys ...string) func(io.Writer, map[string]any) {
	return func(w io.Writer, v map[string]any) {
		obj := v
		if field != "" {
			obj, _ = v[field].(map[string]any)
		}
		fields(w, obj, keys)
	}
}

// query collects the named string flags that were set into a query.
func query(cmd *cobra.Command, names ...string) url.Values {
	q := url.Values{}
	for _, n := range names {
		if f := cmd.Flags().Lookup(n); f != nil && f.Changed {
			q.Set(camel(n), f.Value.String())
		}
	}
	return q
}

// camel turns a flag name (user-id) into its API name (userId).
func camel(s string) string {
	parts := strings.Split(s, "-")
	for i := 1; i < len(parts); i++ {
		parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
	}
	return strings.Join(parts, "")
}

// group is a command that only holds subcommands: alone or with an unknown one it fails.
func group(use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		var names []string
		for _, c := range cmd.Commands() {
			names = append(names, c.Name())
		}
		return fmt.Errorf("%s: name one of %s (see --help)", cmd.CommandPath(), strings.Join(names, ", "))
	}}
}

// paging adds --limit and --offset.
func paging(cmd *cobra.Command) {
	cmd.Flags().Int("limit", 50, "rows per page (1-100)")
	cmd.Flags().Int("offset", 0, "rows to skip")
}

// props parses repeated k=v flags: each value as JSON when it parses, else as a string.
func props(pairs []string, jsonObject string) (map[string]any, error) {
	out := map[string]any{}
	if jsonObject != "" {
		if err := json.Unmarshal([]byte(jsonObject), &out); err != nil {
			return nil, fmt.Errorf("--props: not a JSON object: %v", err)
		}
	}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--prop %q: want key=value", p)
		}
		var parsed any
		if json.Unmarshal([]byte(v), &parsed) != nil {
			parsed = v
		}
		out[k] = parsed
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

func (a *app) doctor() *cobra.Command {
	return &cobra.Command{Use: "doctor", Short: "Check the engine's health: database, Temporal, worker, schema", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := a.c.call(cmd.Context(), http.MethodGet, "/v1/health", nil, nil, anyKey)
			if err != nil {
				if a.asJSON {
					doc, _ := json.MarshalIndent(map[string]any{"ok": false, "verdict": "unreachable", "baseUrl": a.c.BaseURL, "error": err.Error()}, "", "  ")
					fmt.Fprintln(a.stdout, string(doc))
				} else {
					fmt.Fprintf(a.stdout, "unreachable: %v\n", err)
				}
				return errSilent
			}
			var h map[string]any
			if err := json.Unmarshal(raw, &h); err != nil {
				return err
			}
			verdict := fmt.Sprint(h["status"])
			if verdict == "healthy" {
				verdict = "ok"
			}
			if a.asJSON {
				doc, _ := json.MarshalIndent(map[string]any{"ok": verdict == "ok", "verdict": verdict, "baseUrl": a.c.BaseURL,
					"version": h["version"], "uptime": h["uptime"], "timestamp": h["timestamp"], "components": h["components"],
					"schema": h["schema"]}, "", "  ")
				fmt.Fprintln(a.stdout, string(doc))
			} else {
				renderDoctor(a.stdout, a.c.BaseURL, verdict, h)
			}
			if verdict != "ok" {
				return errSilent
			}
			return nil
		}}
}

// errSilent fails the command after it printed its own verdict.
var errSilent = errors.New("")

func renderDoctor(w io.Writer, base, verdict string, h map[string]any) {
	fmt.Fprintf(w, "%s: %s\n", base, verdict)
	if h["version"] != nil {
		fmt.Fprintf(w, "  version %v, engine %v, up %vs\n", h["version"], h["engineVersion"], h["uptime"])
	}
	comps, _ := h["components"].(map[string]any)
	if comps == nil {
		fmt.Fprintln(w, "  (components and schema need an admin key with the read scope)")
		return
	}
	for _, name := range []string{"database", "temporal", "worker"} {
		c, _ := comps[name].(map[string]any)
		line := fmt.Sprintf("  %-9s %v", name, c["status"])
		if ms, ok := c["latencyMs"].(float64); ok {
			line += fmt.Sprintf(" (%dms)", int(ms))
		}
		if seen, ok := c["lastSeenAt"].(string); ok {
			line += " last seen " + seen
		}
		if e, ok := c["error"].(string); ok && e != "" {
			line += ": " + e
		}
		fmt.Fprintln(w, line)
	}
	tracks, _ := h["schema"].(map[string]any)
	for _, name := range []string{"engine", "client"} {
		t, _ := tracks[name].(map[string]any)
		if t == nil {
			continue
		}
		state := "in sync"
		if t["inSync"] != true {
			state = fmt.Sprintf("pending %v", compact(t["pending"]))
		}
		fmt.Fprintf(w, "  schema %-6s %s (applied %v)\n", name, state, cell(t["applied"]))
	}
}

func (a *app) stats() *cobra.Command {
	return &cobra.Command{Use: "stats", Short: "Headline numbers (admin metrics overview)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.do(cmd, http.MethodGet, "/v1/admin/metrics/overview", nil, nil, adminKey, objectOf(""))
		}}
}

func (a *app) journeys() *cobra.Command {
	j := group("journeys", "List journeys, show one, switch one on or off")
	list := &cobra.Command{Use: "list", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return a.do(cmd, http.MethodGet, "/v1/admin/journeys", query(cmd, "enabled", "limit", "offset"), nil, adminKey,
			listOf("journeys", "id", "name", "enabled", "trigger", "counts"))
	}}
	list.Flags().String("enabled", "", "true or false: only journeys switched on or off")
	paging(list)
	get := &cobra.Command{Use: "get <id>", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return a.do(cmd, http.MethodGet, "/v1/admin/journeys/"+url.PathEscape(args[0]), nil, nil, adminKey, objectOf("journey"))
	}}
	toggle := func(use string, on bool) *cobra.Command {
		return &cobra.Command{Use: use + " <id>", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
			return a.do(cmd, http.MethodPatch, "/v1/admin/journeys/"+url.PathEscape(args[0]), nil, map[string]any{"enabled": on}, adminKey,
				objectOf("journey", "id", "enabled", "updatedAt"))
		}}
	}
	j.AddCommand(list, get, toggle("enable", true), toggle("disable", false))
	return j
}

func (a *app) events() *cobra.Command {
	ev := &cobra.Command{Use: "events <userId>", Short: "A user's stored events, or send one", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := query(cmd, "event", "from", "to", "limit", "offset")
			q.Set("userId", args[0])
			return a.do(cmd, http.MethodGet, "/v1/admin/events", q, nil, adminKey, listOf("events", "occurredAt", "event", "userId", "properties", "id"))
		}}
	ev.Flags().String("event", "", "only this event name")
	ev.Flags().String("from", "", "RFC 3339 lower bound")
	ev.Flags().String("to", "", "RFC 3339 upper bound")
	paging(ev)
	send := &cobra.Command{Use: "send <name>", Short: "Ingest an event (data key)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := personBody(cmd, map[string]any{"name": args[0]})
			if err != nil {
				return err
			}
			f := cmd.Flags()
			eventProps, err := propsFlags(cmd, "prop", "props")
			if err != nil {
				return err
			}
			contactProps, err := propsFlags(cmd, "contact-prop", "")
			if err != nil {
				return err
			}
			setIf(body, "eventProperties", eventProps)
			setIf(body, "contactProperties", contactProps)
			for _, name := range []string{"idempotency-key", "timestamp"} {
				if v, _ := f.GetString(name); v != "" {
					body[camel(name)] = v
				}
			}
			return a.do(cmd, http.MethodPost, "/v1/events", nil, body, dataKey, objectOf("", "stored", "exits"))
		}}
	personFlags(send)
	send.Flags().StringArray("prop", nil, "event property key=value (repeatable; JSON values parsed)")
	send.Flags().String("props", "", "event properties as a JSON object")
	send.Flags().StringArray("contact-prop", nil, "contact property key=value (repeatable)")
	send.Flags().String("idempotency-key", "", "a key that makes a repeat a no-op")
	send.Flags().String("timestamp", "", "when it happened (RFC 3339)")
	ev.AddCommand(send)
	return ev
}

// personFlags are --email and --user-id, one of them required.
func personFlags(cmd *cobra.Command) {
	cmd.Flags().String("email", "", "the contact's email")
	cmd.Flags().String("user-id", "", "the contact's user id")
}

func personBody(cmd *cobra.Command, body map[string]any) (map[string]any, error) {
	email, _ := cmd.Flags().GetString("email")
	user, _ := cmd.Flags().GetString("user-id")
	if email == "" && user == "" {
		return nil, errors.New("pass --email or --user-id")
	}
	setIf(body, "email", email)
	setIf(body, "userId", user)
	return body, nil
}

func propsFlags(cmd *cobra.Command, pairs, object string) (map[string]any, error) {
	kv, _ := cmd.Flags().GetStringArray(pairs)
	obj := ""
	if object != "" {
		obj, _ = cmd.Flags().GetString(object)
	}
	return props(kv, obj)
}

// setIf sets a body field when the value is not empty.
func setIf(body map[string]any, k string, v any) {
	switch t := v.(type) {
	case string:
		if t == "" {
			return
		}
	case map[string]any:
		if len(t) == 0 {
			return
		}
	case nil:
		return
	}
	body[k] = v
}

func (a *app) emails() *cobra.Command {
	e := group("emails", "Send a transactional email")
	send := &cobra.Command{Use: "send <template>", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		f := cmd.Flags()
		body := map[string]any{"template": args[0]}
		to, _ := f.GetString("to")
		user, _ := f.GetString("user-id")
		if to == "" && user == "" {
			return errors.New("pass --to or --user-id")
		}
		setIf(body, "to", to)
		setIf(body, "userId", user)
		p, err := propsFlags(cmd, "prop", "props")
		if err != nil {
			return err
		}
		setIf(body, "props", p)
		for _, name := range []string{"from", "subject", "reply-to", "category", "idempotency-key"} {
			if v, _ := f.GetString(name); v != "" {
				body[camel(name)] = v
			}
		}
		if skip, _ := f.GetBool("skip-preference-check"); skip {
			body["skipPreferenceCheck"] = true
		}
		return a.do(cmd, http.MethodPost, "/v1/emails", nil, body, dataKey, objectOf("", "emailSendId", "status", "reason"))
	}}
	send.Flags().String("to", "", "recipient address")
	send.Flags().String("user-id", "", "recipient by user id")
	send.Flags().StringArray("prop", nil, "template prop key=value (repeatable)")
	send.Flags().String("props", "", "template props as a JSON object")
	for _, name := range []string{"from", "subject", "reply-to", "category", "idempotency-key"} {
		send.Flags().String(name, "", name)
	}
	send.Flags().Bool("skip-preference-check", false, "send despite unsubscribes (full-admin key)")
	e.AddCommand(send)
	return e
}

func (a *app) audit() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Audited admin mutations, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.do(cmd, http.MethodGet, "/v1/admin/audit-logs", query(cmd, "actor", "resource", "action", "from", "to", "limit", "offset"),
				nil, adminKey, listOf("logs", "createdAt", "actor", "action", "resourceId", "ipAddress"))
		}}
	for _, name := range []string{"actor", "resource", "action", "from", "to"} {
		cmd.Flags().String(name, "", "filter: "+name)
	}
	paging(cmd)
	return cmd
}

func (a *app) dlq() *cobra.Command {
	d := group("dlq", "Dead letters: list, retry, discard")
	list := &cobra.Command{Use: "list", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return a.do(cmd, http.MethodGet, "/v1/admin/dlq", query(cmd, "source", "status", "limit", "offset"), nil, adminKey,
			listOf("entries", "id", "source", "status", "retryCount", "error", "createdAt"))
	}}
	list.Flags().String("source", "", "only this source (e.g. webhook-delivery)")
	list.Flags().String("status", "", "pending, retried or discarded")
	paging(list)
	retry := &cobra.Command{Use: "retry <id>", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return a.do(cmd, http.MethodPost, "/v1/admin/dlq/"+url.PathEscape(args[0])+"/retry", nil, nil, adminKey, objectOf(""))
	}}
	discard := &cobra.Command{Use: "discard <id>", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return a.do(cmd, http.MethodDelete, "/v1/admin/dlq/"+url.PathEscape(args[0]), nil, nil, adminKey, objectOf(""))
	}}
	d.AddCommand(list, retry, discard)
	return d
}

func (a *app) keys() *cobra.Command {
	k := group("keys", "API keys over the API (keys mint writes one straight into the database)")
	list := &cobra.Command{Use: "list", Args: cobra.NoArgs, RunE: func(cmd *cobra.Command, _ []string) error {
		return a.do(cmd, http.MethodGet, "/v1/admin/api-keys", query(cmd, "include-revoked", "limit", "offset"), nil, adminKey,
			listOf("keys", "id", "name", "keyPrefix", "scopes", "lastUsedAt", "revokedAt", "expiresAt"))
	}}
	list.Flags().String("include-revoked", "", "true: revoked keys too")
	paging(list)
	create := &cobra.Command{Use: "create <name>", Short: "Create a key; it is printed once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"name": args[0]}
			if scopes, _ := cmd.Flags().GetStringSlice("scopes"); len(scopes) > 0 {
				body["scopes"] = scopes
			}
			if exp, _ := cmd.Flags().GetString("expires-at"); exp != "" {
				body["expiresAt"] = exp
			}
			return a.do(cmd, http.MethodPost, "/v1/admin/api-keys", nil, body, adminKey, objectOf("", "id", "name", "key", "scopes", "expiresAt"))
		}}
	create.Flags().StringSlice("scopes", nil, "comma-separated: read, journey-admin, full-admin, ingest")
	create.Flags().String("expires-at", "", "RFC 3339 expiry")
	revoke := &cobra.Command{Use: "revoke <id>", Args: cobra.ExactArgs(1), RunE: func(cmd *cobra.Command, args []string) error {
		return a.do(cmd, http.MethodDelete, "/v1/admin/api-keys/"+url.PathEscape(args[0]), nil, nil, adminKey, objectOf(""))
	}}
	rotate := &cobra.Command{Use: "rotate <id>", Short: "Replace a key; the new one is printed once", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.do(cmd, http.MethodPost, "/v1/admin/api-keys/"+url.PathEscape(args[0])+"/rotate", nil, nil, adminKey,
				objectOf("", "id", "name", "key", "rotatedFrom"))
		}}
	k.AddCommand(list, create, revoke, rotate)
	return k
}

// intFlag reads an int flag that was set.
func intFlag(cmd *cobra.Command, name string) (int, bool) {
	if !cmd.Flags().Changed(name) {
		return 0, false
	}
	n, err := cmd.Flags().GetInt(name)
	return n, err == nil
}
