package email

import (
	htmltemplate "html/template"
	"strings"
)

// The component kit: a table-based, inline-styled layout that mail clients render alike, and a
// few blocks to build content with. A template parsed with ParseHTML defines "content":
//
//	{{define "content"}}
//	  {{template "heading" "Welcome aboard"}}
//	  {{template "paragraph" (print "Hi " (default "there" .name) ",")}}
//	  {{template "button" (dict "href" .dashboardUrl "label" "Open your dashboard")}}
//	{{end}}
//
// and the layout adds the hidden preheader and the footer links (unsubscribe when
// unsubscribeUrl is set, preferences when preferencesUrl is set).
const (
	layoutName  = "layout"
	contentName = "content"
)

const kit = `
{{define "layout"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="margin:0;padding:0;background:#f4f4f5;">
{{with index . "hogsendPreview"}}<div style="display:none;max-height:0;overflow:hidden;mso-hide:all;">{{.}}</div>{{end}}
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f4f4f5;padding:24px 0;">
<tr><td align="center">
<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="max-width:600px;width:100%;background:#ffffff;border-radius:8px;">
<tr><td style="padding:32px 40px;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:16px;line-height:24px;color:#18181b;">
{{template "content" .}}
</td></tr>
</table>
{{template "footer" .}}
</td></tr>
</table>
</body></html>{{end}}

{{define "footer"}}<table role="presentation" width="600" cellpadding="0" cellspacing="0" style="max-width:600px;width:100%;">
<tr><td align="center" style="padding:16px 40px;font-family:Helvetica,Arial,sans-serif;font-size:12px;line-height:18px;color:#71717a;">
{{with index . "unsubscribeUrl"}}<a href="{{.}}" style="color:#71717a;text-decoration:underline;">Unsubscribe</a>{{end}}
{{if and (index . "unsubscribeUrl") (index . "preferencesUrl")}} · {{end}}
{{with index . "preferencesUrl"}}<a href="{{.}}" style="color:#71717a;text-decoration:underline;">Email preferences</a>{{end}}
</td></tr>
</table>{{end}}

{{define "heading"}}<h1 style="margin:0 0 16px;font-size:24px;line-height:32px;font-weight:700;color:#18181b;">{{.}}</h1>{{end}}

{{define "paragraph"}}<p style="margin:0 0 16px;">{{.}}</p>{{end}}

{{define "button"}}{{if .href}}<table role="presentation" cellpadding="0" cellspacing="0" style="margin:8px 0 24px;"><tr>
<td style="background:#18181b;border-radius:6px;"><a href="{{.href}}" style="display:inline-block;padding:12px 20px;color:#ffffff;text-decoration:none;font-weight:600;">{{.label}}</a></td>
</tr></table>{{end}}{{end}}

{{define "list"}}<ul style="margin:0 0 16px;padding-left:20px;">{{range .}}<li style="margin:0 0 4px;">{{.}}</li>{{end}}</ul>{{end}}
`

// Funcs are the template functions of the kit: default (fallback for an empty value), join,
// upper, list (builds a slice for the list component), safeURL (marks a trusted URL, e.g. one
// with a custom scheme) and dict (builds a map for a component).
var Funcs = htmltemplate.FuncMap{
	"default": func(fallback, v any) any {
		if empty(v) {
			return fallback
		}
		return v
	},
	"join": func(sep string, items any) string {
		var parts []string
		switch v := items.(type) {
		case []string:
			parts = v
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					parts = append(parts, s)
				}
			}
		}
		return strings.Join(parts, sep)
	},
	"upper":   func(s string) string { return strings.ToUpper(s) },
	"list":    func(items ...any) []any { return items },
	"safeURL": func(s string) htmltemplate.URL { return htmltemplate.URL(s) },
	"dict": func(kv ...any) map[string]any {
		m := make(map[string]any, len(kv)/2)
		for i := 0; i+1 < len(kv); i += 2 {
			if k, ok := kv[i].(string); ok {
				m[k] = kv[i+1]
			}
		}
		return m
	},
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	}
	return false
}

// base is the parsed kit every template starts from.
var base = htmltemplate.Must(htmltemplate.New(layoutName).Funcs(Funcs).Parse(kit))

// ParseHTML parses a template's content (it must {{define "content"}}) on top of the kit.
func ParseHTML(name, src string) (*htmltemplate.Template, error) {
	t, err := base.Clone()
	if err != nil {
		return nil, err
	}
	return t.New(name).Parse(src)
}

// MustParseHTML is ParseHTML that panics (at program start).
func MustParseHTML(name, src string) *htmltemplate.Template {
	return htmltemplate.Must(ParseHTML(name, src))
}
