package api

import "strings"

// csvRecord renders one CSV record of an export: every cell quoted (quotes doubled), and a cell
// a spreadsheet would evaluate as a formula (starting with = + - @, a tab or a CR) prefixed with
// an apostrophe, so opening an export never runs what a contact typed.
func csvRecord(cells ...string) string {
	var b strings.Builder
	for i, cell := range cells {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			b.WriteByte('\'')
		}
		b.WriteString(strings.ReplaceAll(cell, `"`, `""`))
		b.WriteByte('"')
	}
	return b.String()
}
