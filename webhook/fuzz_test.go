package webhook

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"strconv"
	"strings"
	"testing"
	"time"

	svix "github.com/svix/svix-webhooks/go"
)

// The signature checks never panic and never pass without the signature they expect: a
// verified request must have carried exactly what the secret computes.

func FuzzVerifyStripe(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add(stripeHeader("whsec_test", now.Unix(), []byte(`{}`)), []byte(`{}`))
	f.Add("t=1800000000,v1=,v1=zz,t=", []byte(`x`))
	f.Add("t=1e9,v0=abc", []byte{})
	f.Add(",,=,t==,v1==", []byte(`{"id":"evt"}`))
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		if !VerifyStripe("whsec_test", body, header, now) {
			return
		}
		var ts string
		for _, part := range strings.Split(header, ",") {
			if k, v, ok := strings.Cut(part, "="); ok && strings.TrimSpace(k) == "t" {
				ts = strings.TrimSpace(v)
			}
		}
		if !strings.Contains(header, hexHMAC(sha256.New, "whsec_test", []byte(ts), []byte("."), body)) {
			t.Fatalf("verified %q without its signature", header)
		}
	})
}

func FuzzVerifyHMACHex(f *testing.F) {
	f.Add(hexHMAC(sha256.New, "s", []byte(`{}`)), []byte(`{}`))
	f.Add(hexHMAC(sha1.New, "s", []byte(`{}`)), []byte(`{}`))
	f.Add(strings.Repeat("0", 64), []byte(`{}`))
	f.Fuzz(func(t *testing.T, value string, body []byte) {
		if !VerifyHMACHex("s", body, value) {
			return
		}
		v := strings.TrimSpace(value)
		if v != hexHMAC(sha256.New, "s", body) && v != hexHMAC(sha1.New, "s", body) {
			t.Fatalf("verified %q without its signature", value)
		}
	})
}

func FuzzVerifySvix(f *testing.F) {
	now := time.Now()
	wh, _ := svix.NewWebhook(svixSecret)
	sig, _ := wh.Sign("msg_1", now, []byte(`{}`))
	ts := strconv.FormatInt(now.Unix(), 10)
	f.Add("msg_1", ts, sig, []byte(`{}`), svixSecret)
	f.Add("msg_1", ts, "v1,"+strings.Repeat("A", 44)+" v2,x", []byte(`{}`), "v1,"+svixSecret)
	f.Add("", "", "", []byte{}, "whsec_")
	f.Add("a", "-1", "v1", []byte(`[]`), "not base64")
	f.Fuzz(func(t *testing.T, id, timestamp, signature string, body []byte, secret string) {
		h := map[string]string{"svix-id": id, "svix-timestamp": timestamp, "svix-signature": signature}
		if !VerifySvix(secret, body, h) {
			return
		}
		wh, err := svix.NewWebhook(strings.TrimPrefix(secret, "v1,"))
		sec, perr := strconv.ParseInt(strings.TrimSpace(timestamp), 10, 64)
		if err != nil || perr != nil {
			t.Fatalf("verified with secret %q, timestamp %q", secret, timestamp)
		}
		want, _ := wh.Sign(id, time.Unix(sec, 0), body)
		if !strings.Contains(signature, strings.TrimPrefix(want, "v1,")) {
			t.Fatalf("verified %q without its signature %q", signature, want)
		}
	})
}

// FuzzPresetDecoders feeds any body to every preset: it is refused with Issues, skipped, or
// becomes an event with a name and an identity — never a panic or another error.
func FuzzPresetDecoders(f *testing.F) {
	for _, body := range []string{
		`{"type":"user.created","data":{"id":"u","email_addresses":[{"id":"e","email_address":"a@b.c"}],"public_metadata":{"a":1}}}`,
		`{"type":"waitlistEntry.created","data":{"email_address":"a@b.c"}}`,
		`{"type":"INSERT","table":"users","schema":"auth","record":{"id":"u","raw_user_meta_data":{"x":null}}}`,
		`{"type":"DELETE","table":"users","schema":"auth","old_record":{"id":"u"}}`,
		`{"id":"evt","type":"invoice.paid","data":{"object":{"customer":"cus"}}}`,
		`{"id":"evt","type":"customer.updated","data":{"object":{"id":"cus","metadata":{"k":"v"}}}}`,
		`{"type":"track","event":"E","userId":"u","properties":{"a":[1]}}`,
		`{"type":"identify","anonymousId":"a","context":{"traits":{"email":7}}}`,
		`null`, `[]`, `"x"`, `{"type":null}`, `{"data":{"object":null}}`,
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, s := range Presets() {
			p, err := s.Decode(body)
			if err != nil {
				if _, ok := err.(*Issues); !ok {
					t.Fatalf("%s: decode error %T %v, want *Issues", s.ID, err, err)
				}
				continue
			}
			ev, err := s.Transform(context.Background(), p, Context{RawBody: body})
			if _, skipped := IsSkip(err); skipped {
				continue
			}
			if err != nil || ev == nil || ev.Name == "" || ev.UserID == "" {
				t.Fatalf("%s: %v / %+v from %q", s.ID, err, ev, body)
			}
		}
	})
}
