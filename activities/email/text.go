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
			tok := z.Token()
			switch tok.Data {
			case "head", "style", "script", "title":
				skip++
			case "div":
				if hidden(tok) {
					skip++
				} else if skip == 0 {
					newline()
				}
			case "a":
				href = append(href, attr(tok, "href"))
			case "br", "p", "h1", "h2", "h3", "h4", "tr", "li", "table":
				if skip == 0 {
					newline()
					if tok.Data == "li" {
						out.WriteString("- ")
					}
				}
			}
		case html.EndTagToken:
			tok := z.Token()
			switch tok.Data {
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

func attr(t html.Token, name string) string {
	for _, a := range t.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// hidden reports a display:none block (the preheader).
func hidden(t html.Token) bool {
	return strings.Contains(strings.ReplaceAll(attr(t, "style"), " ", ""), "display:none")
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
