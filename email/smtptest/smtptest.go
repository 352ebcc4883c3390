// Package smtptest is an in-process SMTP server for tests and benchmarks: it keeps (and parses)
// what it receives, or only counts it.
package smtptest

import (
	"bytes"
	"io"
	"maps"
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
	tally    map[string]map[string]int // Tally: recipient → Message-ID → deliveries
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

// StartTally serves like Start(true) and also tallies, per recipient, the deliveries of each
// Message-ID (headers only are read): what a crash test needs of 50,000 messages.
func StartTally() (*Server, error) {
	s, err := Start(true)
	if err == nil {
		s.mu.Lock()
		s.tally = map[string]map[string]int{}
		s.mu.Unlock()
	}
	return s, err
}

// Tally returns, per recipient, the deliveries of each Message-ID (StartTally servers).
func (s *Server) Tally() map[string]map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[string]int, len(s.tally))
	for to, ids := range s.tally {
		out[to] = maps.Clone(ids)
	}
	return out
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
		var id string
		if ss.s.tally != nil {
			if msg, err := mail.ReadMessage(r); err == nil {
				id, r = msg.Header.Get("Message-ID"), msg.Body
			}
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err // cut off before its end: the server did not accept it
		}
		ss.s.count.Add(1)
		if ss.s.tally != nil {
			ss.s.mu.Lock()
			for _, to := range ss.to {
				if ss.s.tally[to] == nil {
					ss.s.tally[to] = map[string]int{}
				}
				ss.s.tally[to][id]++
			}
			ss.s.mu.Unlock()
		}
		return nil
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
