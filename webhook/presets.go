package webhook

import (
	"fmt"
	"slices"
	"strings"
)

// Presets are the shipped sources, in their canonical order.
func Presets() []*Source { return []*Source{Clerk(), Supabase(), Stripe(), Segment()} }

// EnabledPresets picks the presets to mount. enabled is ENABLED_WEBHOOK_PRESETS: "none" mounts
// none, a comma list those it names, "" or "*" all. A preset whose secret is unset is never
// mounted, so its route answers 404 rather than accepting unverifiable requests.
func EnabledPresets(enabled string, secret func(envKey string) string) []*Source {
	enabled = strings.TrimSpace(enabled)
	if enabled == "none" {
		return nil
	}
	var listed []string
	if enabled != "" && enabled != "*" {
		for _, id := range strings.Split(enabled, ",") {
			listed = append(listed, strings.ToLower(strings.TrimSpace(id)))
		}
	}
	var out []*Source
	for _, p := range Presets() {
		if listed != nil && !slices.Contains(listed, p.ID) {
			continue
		}
		if secret(p.Auth.EnvKey) != "" {
			out = append(out, p)
		}
	}
	return out
}

// Mount is the list of sources served: the presets, then the application's own, whose source
// replaces a preset with the same id. Every source is checked; two of the application's with
// one id are an error.
func Mount(presets, own []*Source) ([]*Source, error) {
	seen := map[string]bool{}
	for _, s := range own {
		if err := s.Check(); err != nil {
			return nil, err
		}
		if seen[s.ID] {
			return nil, fmt.Errorf("webhook source %s is defined twice", s.ID)
		}
		seen[s.ID] = true
	}
	var out []*Source
	for _, p := range presets {
		if !seen[p.ID] {
			out = append(out, p)
		}
	}
	return append(out, own...), nil
}
