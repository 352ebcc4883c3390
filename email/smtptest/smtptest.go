// Package smtptest is an in-process SMTP server for tests and benchmarks: it keeps (and parses)
// what it receives, or only counts it.
package smtptest

import (
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"

	gosmtp "github.com/emersion/go-smtp"
)

// Server accepts every message without authentication.
type Server struct {
	// Discard counts messages without keeping them (benchmarks).
	Discard bool

	srv      *gosmtp.Server
	addr     string
	count    atomic.Int64
	mu       sync.Mutex
	messages []Message
}

// Message is one received message, parsed.
type Message struct {
	From   string
	To     []string
	Raw    []byte
	Header mail.Header
	// Subject is decoded (RFC 2047); Text and HTML are the decoded parts.
	Subject    string
	Text, HTML string
}

// Start serves on 127.0.0.1 on a free port.
func Start(discard bool) (*Server, error) {
	s := &Server{Discard: discard}
	s.srv = gosmtp.NewServer(backend{s})
	s.srv.Domain = "localhost"
	s.srv.MaxRecipients = 100
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.addr = ln.Addr().String()
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the SMTP_URL of the server.
func (s *Server) URL() string { return "smtp://" + s.addr + "?tls=none" }

// Addr is host:port.
func (s *Server) Addr() string { return s.addr }

// Close stops the server.
func (s *Server) Close() { _ = s.srv.Close() }

// Count is the number of messages received.
func (s *Server) Count() int64 { return s.count.Load() }

// Messages returns the kept messages in order of arrival.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// To returns the kept messages to one address.
func (s *Server) To(addr string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, addr) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

type backend struct{ s *Server }

func (b backend) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &session{s: b.s}, nil }

type session struct {
	s    *Server
	from string
	to   []string
}

func (ss *session) Mail(from string, _ *gosmtp.MailOptions) error { ss.from = from; return nil }
func (ss *session) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}
func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

func (ss *session) Data(r io.Reader) error {
	if ss.s.Discard {
		_, err := io.Copy(io.Discard, r)
		ss.s.count.Add(1)
		return err
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Parse(raw)
	m.From, m.To = ss.from, append([]string(nil), ss.to...)
	ss.s.mu.Lock()
	ss.s.messages = append(ss.s.messages, m)
	ss.s.mu.Unlock()
	ss.s.count.Add(1)
	return nil
}

// Parse reads a message's headers and its text and HTML parts (multipart or single part).
func Parse(raw []byte) Message {
	m := Message{Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return m
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = subj
	}
	mediaType, params, _ := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if !strings.HasPrefix(mediaType, "multipart/") {
		body, _ := io.ReadAll(msg.Body)
		if mediaType == "text/html" {
			m.HTML = string(body)
		} else {
			m.Text = string(body)
		}
		return m
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable parts
		if err != nil {
			return m
		}
		body, _ := io.ReadAll(p)
		switch ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); ct {
		case "text/plain":
			m.Text = string(body)
		case "text/html":
			m.HTML = string(body)
		}
	}
}
