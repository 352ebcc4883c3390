package mailer

import (
	"html"
	"regexp"
	"strings"
)

// Link and pixel rewriting of tracked sends (pure: the caller stores the tracked links).

// hrefAttr matches a double-quoted href attribute (single-quoted ones are left alone).
var hrefAttr = regexp.MustCompile(`(?i)\bhref="([^"]*)"`)

// untracked are the engine's own links, which must keep working as they are.
var untracked = []string{"/v1/email/unsubscribe", "/v1/email/preferences"}

// trackable reports whether a (decoded) URL gets a tracked redirect.
func trackable(u string) bool {
	lower := strings.ToLower(u)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") {
		return false
	}
	for _, s := range untracked {
		if strings.Contains(u, s) {
			return false
		}
	}
	return true
}

// TrackableLinks are the distinct http(s) link targets of a document in order of appearance,
// HTML-unescaped (html/template writes & as &amp; in attributes; the redirect needs the real URL).
func TrackableLinks(doc string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range hrefAttr.FindAllStringSubmatch(doc, -1) {
		u := html.UnescapeString(m[1])
		if trackable(u) && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// RewriteLinks replaces every trackable link with its tracked redirect (tracked maps the
// decoded URL to the redirect URL; links missing from it stay as they are).
func RewriteLinks(doc string, tracked map[string]string) string {
	if len(tracked) == 0 {
		return doc
	}
	return hrefAttr.ReplaceAllStringFunc(doc, func(attr string) string {
		u := html.UnescapeString(hrefAttr.FindStringSubmatch(attr)[1])
		if to, ok := tracked[u]; ok && trackable(u) {
			return `href="` + html.EscapeString(to) + `"`
		}
		return attr
	})
}

// InsertPixel puts the open pixel right before the last </body>, or at the end without one.
func InsertPixel(doc, pixelURL string) string {
	img := `<img src="` + html.EscapeString(pixelURL) + `" width="1" height="1" alt="" style="display:none" />`
	if i := strings.LastIndex(strings.ToLower(doc), "</body>"); i >= 0 {
		return doc[:i] + img + doc[i:]
	}
	return doc + img
}
