package imports_test

import (
	"errors"
	"testing"

	"github.com/hogsend/hogsend/internal/imports"
)

// FuzzParse: any upload either parses into rows or is an ErrUnparsable error; it never
// panics, and every row is numbered in order.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"externalId,email,plan\nimp1,imp1@x.com,pro\n,,\n", "name\nbob", "email\n\"unterminated", "\ufeffemail\r\na@x.com\r\n",
		`[{"externalId":"a","properties":{"x":1}}]`, `[{"externalId":42},null,"x",{"properties":[]}]`, `{"a":1}`, `[] []`, "",
	} {
		f.Add("csv", seed)
		f.Add("json", seed)
	}
	f.Fuzz(func(t *testing.T, format, data string) {
		rows, err := imports.Parse(format, data)
		if err != nil {
			if !errors.Is(err, imports.ErrUnparsable) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for i, r := range rows {
			if r.Index != i {
				t.Fatalf("row %d has index %d", i, r.Index)
			}
		}
	})
}
