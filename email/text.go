package email

import (
	"strings"

	"golang.org/x/net/html"
)

// TextFromHTML derives the plain-text part from rendered HTML: head, style and script dropped,
// block elements on their own lines, links as "text (url)", whitespace collapsed.
func TextFromHTML(src string) string {
	z := html.NewTokenizer(strings.NewReader(src))
	var out strings.Builder
	skip := 0 // inside head/style/script/hidden preheader
	var href []string
	newline := func() {
		s := out.String()
		if s != "" && !strings.HasSuffix(s, "\n") {
			out.WriteString("\n")
		}
	}
	for {
		switch z.Next() {
		case html.ErrorToken:
			return tidy(out.String())
		case html.StartTagToken, html.SelfClosingTagToken:
			// Tag names and only the attributes needed: z.Token() would copy every attribute.
			name, hasAttr := z.TagName()
			switch tag := string(name); tag {
			case "head", "style", "script", "title":
				skip++
			case "div":
				if hasAttr && hidden(attr(z, "style")) {
					skip++
				} else if skip == 0 {
					newline()
				}
			case "a":
				u := ""
				if hasAttr {
					u = attr(z, "href")
				}
				href = append(href, u)
			case "br", "p", "h1", "h2", "h3", "h4", "tr", "li", "table":
				if skip == 0 {
					newline()
					if tag == "li" {
						out.WriteString("- ")
					}
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch string(name) {
			case "head", "style", "script", "title":
				skip--
			case "div":
				if skip > 0 {
					skip--
				} else {
					newline()
				}
			case "a":
				if n := len(href); n > 0 {
					if u := href[n-1]; u != "" && skip == 0 {
						out.WriteString(" (" + u + ")")
					}
					href = href[:n-1]
				}
			case "p", "h1", "h2", "h3", "h4", "tr", "li", "table":
				if skip == 0 {
					newline()
				}
			}
		case html.TextToken:
			if skip == 0 {
				raw := string(z.Text())
				words := strings.Join(strings.Fields(raw), " ")
				if words == "" {
					continue
				}
				if cur := out.String(); raw[0] <= ' ' && cur != "" && !strings.HasSuffix(cur, " ") && !strings.HasSuffix(cur, "\n") {
					out.WriteString(" ")
				}
				out.WriteString(words)
				if raw[len(raw)-1] <= ' ' {
					out.WriteString(" ")
				}
			}
		}
	}
}

// attr reads one attribute of the current tag (the tag's attributes are consumed).
func attr(z *html.Tokenizer, name string) string {
	for {
		key, val, more := z.TagAttr()
		if string(key) == name {
			return string(val)
		}
		if !more {
			return ""
		}
	}
}

// hidden reports a display:none style (the preheader).
func hidden(style string) bool {
	return strings.Contains(strings.ReplaceAll(style, " ", ""), "display:none")
}

// tidy trims every line and drops runs of blank lines.
func tidy(s string) string {
	var lines []string
	blank := false
	for _, l := range strings.Split(s, "\n") {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" {
			if !blank && len(lines) > 0 {
				lines = append(lines, "")
			}
			blank = true
			continue
		}
		blank = false
		lines = append(lines, l)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
