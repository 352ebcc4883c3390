package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"text/tabwriter"
)

// cell renders one value for a terminal: strings as they are, whole numbers without a
// fraction, nothing as "-", the rest as compact JSON.
func cell(v any) string {
	switch t := v.(type) {
	case nil:
		return "-"
	case string:
		if t == "" {
			return "-"
		}
		return t
	case float64:
		if t == float64(int64(t)) {
			return strconv.FormatInt(int64(t), 10)
		}
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	}
	return compact(v)
}

func compact(v any) string {
	raw, _ := json.Marshal(v)
	return string(raw)
}

// table prints rows (JSON objects) as aligned columns.
func table(w io.Writer, rows []any, cols []string) {
	if len(rows) == 0 {
		fmt.Fprintln(w, "(none)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, c)
	}
	fmt.Fprintln(tw)
	for _, r := range rows {
		obj, _ := r.(map[string]any)
		for i, c := range cols {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, cell(obj[c]))
		}
		fmt.Fprintln(tw)
	}
	_ = tw.Flush()
}

// fields prints an object as "key: value" lines, in keys' order (all, sorted, when empty).
func fields(w io.Writer, obj map[string]any, keys []string) {
	if len(keys) == 0 {
		keys = slices.Sorted(maps.Keys(obj))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, k := range keys {
		if v, ok := obj[k]; ok {
			fmt.Fprintf(tw, "%s:\t%s\n", k, cell(v))
		}
	}
	_ = tw.Flush()
}
