// Package cli is the operator side of the hogsend binary: commands that drive a running
// engine over its HTTP API (doctor, stats, journeys, contacts, events, emails, campaigns,
// webhooks, keys, audit, alerts, dlq), so they work against a remote engine as well.
package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// Settings are where the engine is and the keys to call it with.
type Settings struct {
	BaseURL, AdminKey, DataKey string
}

// keyKind is which key a call sends.
type keyKind int

const (
	noKey    keyKind = iota
	adminKey         // the admin plane
	dataKey          // the data plane (ingest)
	anyKey           // the admin key when there is one, else none (health)
)

// APIError is an answer of 4xx or 5xx, rendered as "<status>: <error>".
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Message) }

type client struct {
	Settings
	http *http.Client
}

var (
	errNoAdminKey = errors.New("no admin key configured — pass --admin-key, or set HOGSEND_ADMIN_KEY / ADMIN_API_KEY")
	errNoDataKey  = errors.New("no data key configured — pass --data-key, or set HOGSEND_DATA_KEY / HOGSEND_API_KEY")
)

// request sends one call; body nil = none. The answer is returned raw for --json.
func (c *client) request(ctx context.Context, method, path string, query url.Values, body any, key keyKind) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	u := c.BaseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	token := ""
	switch key {
	case adminKey:
		if token = c.AdminKey; token == "" {
			return nil, errNoAdminKey
		}
	case dataKey:
		if token = c.DataKey; token == "" {
			return nil, errNoDataKey
		}
	case anyKey:
		token = c.AdminKey
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s (%s)", c.BaseURL, reason(err))
	}
	if res.StatusCode >= 400 {
		defer res.Body.Close()
		var e struct{ Error string }
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(raw))
		}
		return nil, &APIError{Status: res.StatusCode, Message: e.Error}
	}
	return res, nil
}

// call is request with the JSON answer decoded.
func (c *client) call(ctx context.Context, method, path string, query url.Values, body any, key keyKind) (json.RawMessage, error) {
	res, err := c.request(ctx, method, path, query, body, key)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s (%s)", c.BaseURL, reason(err))
	}
	return raw, nil
}

// reason is the short cause of a transport failure.
func reason(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// readDotEnv reads KEY=VALUE lines: # comments, an optional "export ", optional quotes.
func readDotEnv(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		out[strings.TrimSpace(k)] = v
	}
	return out
}
