package smtp_test

import (
	"context"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/hogsend/hogsend/email"
	"github.com/hogsend/hogsend/email/smtp"
)

// sink is an in-process SMTP server that keeps what it receives.
type sink struct {
	sessions atomic.Int32
	mu       sync.Mutex
	messages []received
	reject   *gosmtp.SMTPError // answer RCPT with this
	blocked  string            // answer RCPT to this address with 550
	user     string            // "" = no auth required
	// dropAfter > 0 drops the connection after receiving that message, before replying.
	dropAfter int
}

type received struct {
	from string
	to   []string
	data []byte
}

type session struct {
	s      *sink
	conn   *gosmtp.Conn
	authed bool
	cur    received
}

func (s *sink) NewSession(c *gosmtp.Conn) (gosmtp.Session, error) {
	s.sessions.Add(1)
	return &session{s: s, conn: c}, nil
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != ss.s.user || pass != "secret" {
			return &gosmtp.SMTPError{Code: 535, EnhancedCode: gosmtp.EnhancedCode{5, 7, 8}, Message: "Authentication failed"}
		}
		ss.authed = true
		return nil
	}), nil
}
func (ss *session) Mail(from string, _ *gosmtp.MailOptions) error {
	if ss.s.user != "" && !ss.authed {
		return gosmtp.ErrAuthRequired
	}
	ss.cur.from = from
	return nil
}
func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	if ss.s.reject != nil {
		return ss.s.reject
	}
	if to == ss.s.blocked {
		return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	}
	ss.cur.to = append(ss.cur.to, to)
	return nil
}
func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.cur.data = b
	ss.s.mu.Lock()
	ss.s.messages = append(ss.s.messages, ss.cur)
	drop := len(ss.s.messages) == ss.s.dropAfter
	ss.s.mu.Unlock()
	if drop {
		_ = ss.conn.Close() // the message is in; its acknowledgement never leaves
	}
	return nil
}
func (ss *session) Reset()        { ss.cur = received{} }
func (ss *session) Logout() error { return nil }

func startSink(t *testing.T, s *sink) string {
	t.Helper()
	return startSinkWith(t, s, 0)
}

// startSinkWith serves s; idleTimeout > 0 drops sessions idle that long.
func startSinkWith(t *testing.T, s *sink, idleTimeout time.Duration) string {
	t.Helper()
	srv := gosmtp.NewServer(s)
	srv.ReadTimeout = idleTimeout
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func message() email.Message {
	return email.Message{
		From: "Hogsend <hello@acme.example>", To: []string{"ada@example.com"}, Bcc: []string{"audit@example.com"},
		Subject: "Bienvenue, Ada ✓", Text: "Hi Ada,\nOpen https://a.example/x?a=1&b=2",
		HTML:    `<p>Hi Ada,</p><a href="https://a.example/x?a=1&amp;b=2">Open</a>`,
		Headers: map[string]string{"List-Unsubscribe": "<https://api.example/u?t=1>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
		Tags:    []email.Tag{{Name: "templateKey", Value: "welcome"}},
	}
}

// bothModes runs a test with and without command pipelining.
func bothModes(t *testing.T, test func(t *testing.T, pipelining bool)) {
	for _, pipelining := range []bool{true, false} {
		t.Run(map[bool]string{true: "pipelined", false: "one command per round trip"}[pipelining], func(t *testing.T) {
			t.Parallel()
			test(t, pipelining)
		})
	}
}

func TestSendDeliversAMultipartMessage(t *testing.T) {
	t.Parallel()
	bothModes(t, testSendDeliversAMultipartMessage)
}

func testSendDeliversAMultipartMessage(t *testing.T, pipelining bool) {
	s := &sink{}
	p, err := smtp.New("smtp://" + startSink(t, s) + "?tls=none")
	require.NoError(t, err)
	p.DisablePipelining = !pipelining
	res, err := p.Send(context.Background(), message())
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(res.ID, "@acme.example"))

	require.Len(t, s.messages, 1)
	got := s.messages[0]
	require.Equal(t, "hello@acme.example", got.from)
	require.Equal(t, []string{"ada@example.com", "audit@example.com"}, got.to, "Bcc is an envelope recipient")
	msg, err := mail.ReadMessage(strings.NewReader(string(got.data)))
	require.NoError(t, err)
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	require.NoError(t, err)
	require.Equal(t, "Bienvenue, Ada ✓", subject)
	require.Empty(t, msg.Header.Get("Bcc"))
	require.Equal(t, "<"+res.ID+">", msg.Header.Get("Message-Id"))
	require.Equal(t, "List-Unsubscribe=One-Click", msg.Header.Get("List-Unsubscribe-Post"))
	require.Equal(t, "templateKey=welcome", msg.Header.Get("X-Hogsend-Tag"))

	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	require.NoError(t, err)
	require.Equal(t, "multipart/alternative", mediaType)
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var parts []string
	for {
		part, err := mr.NextPart() // decodes quoted-printable
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		body, err := io.ReadAll(part)
		require.NoError(t, err)
		parts = append(parts, part.Header.Get("Content-Type")+"|"+string(body))
	}
	require.Equal(t, []string{
		"text/plain; charset=utf-8|Hi Ada,\r\nOpen https://a.example/x?a=1&b=2",
		`text/html; charset=utf-8|<p>Hi Ada,</p><a href="https://a.example/x?a=1&amp;b=2">Open</a>`,
	}, parts)
}

func TestSendAuthenticates(t *testing.T) {
	t.Parallel()
	s := &sink{user: "mailer"}
	addr := startSink(t, s)
	_, port, _ := net.SplitHostPort(addr)
	// net/smtp sends credentials in clear text only to localhost.
	p, err := smtp.New("smtp://mailer:secret@localhost:" + port + "?tls=none")
	require.NoError(t, err)
	_, err = p.Send(context.Background(), message())
	require.NoError(t, err)

	bad, err := smtp.New("smtp://mailer:wrong@localhost:" + port + "?tls=none")
	require.NoError(t, err)
	_, err = bad.Send(context.Background(), message())
	require.Error(t, err)
	require.False(t, email.Retryable(err), "rejected credentials will not work on retry: %v", err)
}

func TestReplyCodesAreClassified(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code      int
		retryable bool
	}{{550, false}, {451, true}} {
		s := &sink{reject: &gosmtp.SMTPError{Code: tc.code, Message: "nope"}}
		p, err := smtp.New("smtp://" + startSink(t, s) + "?tls=none")
		require.NoError(t, err)
		_, err = p.Send(context.Background(), message())
		var se *email.SendError
		require.ErrorAs(t, err, &se)
		require.Equal(t, tc.code, se.StatusCode)
		require.Equal(t, tc.retryable, se.Retryable)
	}

	p, err := smtp.New("smtp://127.0.0.1:1?tls=none") // nothing listens
	require.NoError(t, err)
	_, err = p.Send(context.Background(), message())
	require.True(t, email.Retryable(err), "an unreachable server may come back")
}

func TestNewReadsTheURL(t *testing.T) {
	t.Parallel()
	p, err := smtp.New("smtps://u:p@mail.example.com")
	require.NoError(t, err)
	require.Equal(t, "mail.example.com:465", p.Addr)
	require.Equal(t, smtp.TLSImplicit, p.TLS)
	require.Equal(t, "u", p.Username)
	for _, bad := range []string{"http://x:25", "smtp://", "smtp://x:25?tls=maybe"} {
		_, err := smtp.New(bad)
		require.Error(t, err, bad)
	}
}

func TestSessionsAreReusedAndReplacedWhenDropped(t *testing.T) {
	t.Parallel()
	s := &sink{}
	p, err := smtp.New("smtp://" + startSinkWith(t, s, 300*time.Millisecond) + "?tls=none")
	require.NoError(t, err)
	t.Cleanup(p.Close)
	for range 5 {
		_, err := p.Send(context.Background(), message())
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, s.sessions.Load(), "one session carried all five messages")

	time.Sleep(500 * time.Millisecond) // the server drops the idle session
	_, err = p.Send(context.Background(), message())
	require.NoError(t, err, "a dropped session is replaced")
	require.EqualValues(t, 2, s.sessions.Load())
	require.Len(t, s.messages, 6)
}

func TestARefusedMessageKeepsTheSession(t *testing.T) {
	t.Parallel()
	bothModes(t, testARefusedMessageKeepsTheSession)
}

func testARefusedMessageKeepsTheSession(t *testing.T, pipelining bool) {
	s := &sink{blocked: "gone@example.com"}
	p, err := smtp.New("smtp://" + startSink(t, s) + "?tls=none")
	require.NoError(t, err)
	p.DisablePipelining = !pipelining
	t.Cleanup(p.Close)
	bad := message()
	bad.To, bad.Bcc = []string{"gone@example.com"}, nil
	_, err = p.Send(context.Background(), bad)
	var se *email.SendError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 550, se.StatusCode)
	require.False(t, se.Retryable)
	for range 2 {
		_, err = p.Send(context.Background(), message())
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, s.sessions.Load())
}

func TestAPartlyRefusedMessageIsNotSentToAnyone(t *testing.T) {
	t.Parallel()
	bothModes(t, func(t *testing.T, pipelining bool) {
		s := &sink{blocked: "audit@example.com"} // the Bcc is refused, the To accepted
		p, err := smtp.New("smtp://" + startSink(t, s) + "?tls=none")
		require.NoError(t, err)
		p.DisablePipelining = !pipelining
		t.Cleanup(p.Close)
		_, err = p.Send(context.Background(), message())
		var se *email.SendError
		require.ErrorAs(t, err, &se)
		require.Equal(t, 550, se.StatusCode)
		_, err = p.Send(context.Background(), email.Message{From: "hello@acme.example", To: []string{"ada@example.com"}, Subject: "next", Text: "x"})
		require.NoError(t, err, "the next message goes through")
		s.mu.Lock()
		defer s.mu.Unlock()
		require.Len(t, s.messages, 1, "no (empty) message reached the accepted recipient")
		require.Contains(t, string(s.messages[0].data), "Subject: next")
	})
}

func TestLinesStartingWithADotSurvive(t *testing.T) {
	t.Parallel()
	bothModes(t, func(t *testing.T, pipelining bool) {
		s := &sink{}
		p, err := smtp.New("smtp://" + startSink(t, s) + "?tls=none")
		require.NoError(t, err)
		p.DisablePipelining = !pipelining
		text := ".starts with a dot\n..two dots\n.\nend"
		_, err = p.Send(context.Background(), email.Message{From: "a@acme.example", To: []string{"b@example.com"}, Subject: "dots", Text: text, HTML: "<p>.</p>"})
		require.NoError(t, err)
		require.Len(t, s.messages, 1)
		msg, err := mail.ReadMessage(strings.NewReader(string(s.messages[0].data)))
		require.NoError(t, err)
		_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
		require.NoError(t, err)
		part, err := multipart.NewReader(msg.Body, params["boundary"]).NextPart()
		require.NoError(t, err)
		got, err := io.ReadAll(part)
		require.NoError(t, err)
		require.Equal(t, strings.ReplaceAll(text, "\n", "\r\n"), string(got))
	})
}

func TestALostReplyAfterDataIsAmbiguousAndNotResent(t *testing.T) {
	t.Parallel()
	bothModes(t, func(t *testing.T, pipelining bool) {
		s := &sink{dropAfter: 2}
		p, err := smtp.New("smtp://" + startSink(t, s) + "?tls=none")
		require.NoError(t, err)
		p.DisablePipelining = !pipelining
		t.Cleanup(p.Close)
		_, err = p.Send(context.Background(), message())
		require.NoError(t, err)

		m := message()
		m.MessageID = "send-2@acme.example"
		_, err = p.Send(context.Background(), m) // on the reused session, whose reply is lost
		require.Error(t, err)
		require.True(t, email.Ambiguous(err), "the server may hold the message: %v", err)
		require.Len(t, s.messages, 2, "not sent again on a fresh session")
		require.Contains(t, string(s.messages[1].data), "Message-ID: <send-2@acme.example>")

		// A refusal is not ambiguous.
		bad := message()
		bad.To, bad.Bcc = []string{"x@example.com"}, nil
		s.mu.Lock()
		s.reject = &gosmtp.SMTPError{Code: 451, Message: "try later"}
		s.mu.Unlock()
		_, err = p.Send(context.Background(), bad)
		require.Error(t, err)
		require.False(t, email.Ambiguous(err))
	})
}
