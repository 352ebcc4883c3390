package api

import (
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// Every route of the table documents its answer, and every POST, PUT and PATCH its body (or
// says it has none); no entry names a route that does not exist.
func TestEveryRouteWithABodyDocumentsIt(t *testing.T) {
	routes := map[string]bool{}
	for _, r := range New(Config{Limits: Limits{Disabled: true}}).Routes() {
		key := r.Method + " " + r.Path
		routes[key] = true
		_, documented := requestBodies[key]
		_, typed := replyBodies[key]
		_, media := replyMedia[key]
		require.True(t, typed || media || key == "GET /v1/t/c/:id", "%s: describe its answer in replyBodies or replyMedia", key)
		if slices.Contains([]string{http.MethodPost, http.MethodPut, http.MethodPatch}, r.Method) {
			require.True(t, documented != slices.Contains(bodiless, key), "%s: put its body type in requestBodies, or list it in bodiless", key)
		}
	}
	for key := range requestBodies {
		require.True(t, routes[key], "requestBodies names %s, which is not a route", key)
	}
	for key := range replyMedia {
		require.True(t, routes[key], "replyMedia names %s, which is not a route", key)
	}
	for key := range replyBodies {
		require.True(t, routes[key], "replyBodies names %s, which is not a route", key)
	}
	for _, key := range bodiless {
		require.True(t, routes[key], "bodiless names %s, which is not a route", key)
	}
}
