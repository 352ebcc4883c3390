package mailer

import (
	"html"
	"strings"
)

// Link and pixel rewriting of tracked sends (pure: the caller stores the tracked links).

// hrefValues calls fn with the bounds of every double-quoted href attribute's value (single-quoted
// ones are left alone), in order. A plain scan: it runs on every tracked send.
func hrefValues(doc string, fn func(start, end int)) {
	lower := asciiLower(doc) // same byte offsets as doc
	for i := 0; ; {
		j := strings.Index(lower[i:], `href="`)
		if j < 0 {
			return
		}
		at := i + j
		start := at + len(`href="`)
		end := strings.IndexByte(doc[start:], '"')
		if end < 0 {
			return
		}
		if at > 0 && wordByte(doc[at-1]) {
			i = at + 1 // not a word start (xhref="): its value may hold a real href="
			continue
		}
		fn(start, start+end)
		i = start + end + 1
	}
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func wordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

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
	hrefValues(doc, func(start, end int) {
		u := html.UnescapeString(doc[start:end])
		if trackable(u) && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	})
	return out
}

// RewriteLinks replaces every trackable link with its tracked redirect (tracked maps the
// decoded URL to the redirect URL; links missing from it stay as they are).
func RewriteLinks(doc string, tracked map[string]string) string {
	if len(tracked) == 0 {
		return doc
	}
	var b strings.Builder
	b.Grow(len(doc))
	last := 0
	hrefValues(doc, func(start, end int) {
		u := html.UnescapeString(doc[start:end])
		if to, ok := tracked[u]; ok && trackable(u) {
			b.WriteString(doc[last:start])
			b.WriteString(html.EscapeString(to))
			last = end
		}
	})
	b.WriteString(doc[last:])
	return b.String()
}

// InsertPixel puts the open pixel right before the last </body>, or at the end without one.
func InsertPixel(doc, pixelURL string) string {
	img := `<img src="` + html.EscapeString(pixelURL) + `" width="1" height="1" alt="" style="display:none" />`
	if i := strings.LastIndex(strings.ToLower(doc), "</body>"); i >= 0 {
		return doc[:i] + img + doc[i:]
	}
	return doc + img
}
