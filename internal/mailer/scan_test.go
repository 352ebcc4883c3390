package mailer

import (
	"regexp"
	"testing"
)

// FuzzHrefScan: the hand-written scanner finds exactly what the regular expression
// (?i)\bhref="([^"]*)" finds.
func FuzzHrefScan(f *testing.F) {
	for _, s := range []string{`<a href="https://a.example/x?a=1&amp;b=2">x</a>`, `<A HREF="http://B.example">`, `data-href="x" xhref="y"`,
		`href='single'`, `href="unterminated`, `<a href="">`, `İhref="z"`, `0href="href=""`} {
		f.Add(s)
	}
	ref := regexp.MustCompile(`(?i)\bhref="([^"]*)"`)
	f.Fuzz(func(t *testing.T, doc string) {
		var got []string
		hrefValues(doc, func(start, end int) { got = append(got, doc[start:end]) })
		var want []string
		for _, m := range ref.FindAllStringSubmatch(doc, -1) {
			want = append(want, m[1])
		}
		if len(got) != len(want) {
			t.Fatalf("%q: got %q, want %q", doc, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%q: got %q, want %q", doc, got, want)
			}
		}
	})
}
