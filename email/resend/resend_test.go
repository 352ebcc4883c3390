package resend_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/email/resend"
)

func message() email.Message {
	return email.Message{From: "hello@acme.example", To: []string{"ada@example.com"}, Subject: "Hi", HTML: "<p>Hi</p>", Text: "Hi",
		Tags: []email.Tag{{Name: "userId", Value: "ada@example.com"}}, Headers: map[string]string{"List-Unsubscribe": "<https://u>"},
		IdempotencyKey: "journey:s1:email:1"}
}

func TestSendPostsTheMessage(t *testing.T) {
	t.Parallel()
	var got map[string]any
	var auth, idem string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/emails", r.URL.Path)
		auth, idem = r.Header.Get("Authorization"), r.Header.Get("Idempotency-Key")
		require.NoError(t, json.NewDecoder(r.Body).Decode(&got))
		_, _ = w.Write([]byte(`{"id":"re_123"}`))
	}))
	t.Cleanup(srv.Close)
	p := &resend.Provider{APIKey: "re_key", BaseURL: srv.URL}
	res, err := p.Send(context.Background(), message())
	require.NoError(t, err)
	require.Equal(t, "re_123", res.ID)
	require.Equal(t, "Bearer re_key", auth)
	require.Equal(t, "journey:s1:email:1", idem)
	require.Equal(t, []any{"ada@example.com"}, got["to"])
	require.Equal(t, []any{map[string]any{"name": "userId", "value": "ada_example_com"}}, got["tags"], "tags sanitised for Resend")
	require.Equal(t, map[string]any{"List-Unsubscribe": "<https://u>"}, got["headers"])
}

func TestErrorsAreClassifiedAndRetried(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	status := []int{429, 503, 200}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1)) - 1
		if n >= len(status) {
			n = len(status) - 1
		}
		w.WriteHeader(status[n])
		if status[n] == 200 {
			_, _ = w.Write([]byte(`{"id":"re_ok"}`))
			return
		}
		_, _ = w.Write([]byte(`{"statusCode":429,"name":"rate_limit_exceeded","message":"Too many requests"}`))
	}))
	t.Cleanup(srv.Close)
	p := &resend.Provider{APIKey: "k", BaseURL: srv.URL}

	_, err := p.Send(context.Background(), message())
	var se *email.SendError
	require.ErrorAs(t, err, &se)
	require.True(t, se.Retryable)
	require.Equal(t, 429, se.StatusCode)
	require.EqualError(t, err, "Failed to send email: Too many requests")

	res, err := email.Retrying{Provider: p, BaseDelay: time.Millisecond}.Send(context.Background(), message())
	require.NoError(t, err, "503 then 200")
	require.Equal(t, "re_ok", res.ID)
	require.EqualValues(t, 3, calls.Load())
}

func TestValidationErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(422)
		_, _ = w.Write([]byte(`{"statusCode":422,"name":"validation_error","message":"Invalid to field"}`))
	}))
	t.Cleanup(srv.Close)
	_, err := email.Retrying{Provider: &resend.Provider{APIKey: "k", BaseURL: srv.URL}, BaseDelay: time.Millisecond}.Send(context.Background(), message())
	require.EqualError(t, err, "Failed to send email: Invalid to field")
	require.False(t, email.Retryable(err))
	require.EqualValues(t, 1, calls.Load())
}

func TestOnlyAFailureBeforeTheRequestIsUnambiguous(t *testing.T) {
	t.Parallel()
	// The request arrives; the connection drops before an answer.
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		require.NoError(t, err)
		_ = conn.Close()
	}))
	t.Cleanup(srv.Close)
	_, err := (&resend.Provider{APIKey: "k", BaseURL: srv.URL}).Send(context.Background(), message())
	require.Error(t, err)
	require.True(t, email.Ambiguous(err), "Resend may have accepted it: %v", err)
	_, err = email.Retrying{Provider: &resend.Provider{APIKey: "k", BaseURL: srv.URL}}.Send(context.Background(), message())
	require.Error(t, err)
	require.EqualValues(t, 2, got.Load(), "Retrying leaves an ambiguous failure to its caller")

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens: the dial is refused
	_, err = (&resend.Provider{APIKey: "k", BaseURL: closed.URL}).Send(context.Background(), message())
	require.Error(t, err)
	require.True(t, email.Retryable(err))
	require.False(t, email.Ambiguous(err))
}
