// Package apikeys issues, verifies and revokes the engine's hsk_ API keys and decides what each
// key's scopes allow. Only the SHA-256 of a key is stored; the plaintext is shown once.
package apikeys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hogsend/hogsend/internal/store"
)

// Scope is a permission carried by a key.
type Scope string

// Scopes. read < journey-admin < full-admin form a ladder; ingest is orthogonal (the data plane),
// and full-admin implies it.
const (
	Read         Scope = "read"
	JourneyAdmin Scope = "journey-admin"
	FullAdmin    Scope = "full-admin"
	Ingest       Scope = "ingest"
)

// AllScopes lists every scope a key may be created with.
var AllScopes = []Scope{Read, JourneyAdmin, FullAdmin, Ingest}

var rank = map[Scope]int{Read: 0, JourneyAdmin: 1, FullAdmin: 2}

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return slices.Contains(AllScopes, s) }

// HasScope reports whether a key holding have may use a route that needs need. Unknown scope
// strings are ignored.
func HasScope(have []string, need Scope) bool {
	want, ladder := rank[need]
	if !ladder {
		return slices.Contains(have, string(need)) || slices.Contains(have, string(FullAdmin))
	}
	for _, h := range have {
		if r, ok := rank[Scope(h)]; ok && r >= want {
			return true
		}
	}
	return false
}

// Prefix is the literal start of every key.
const Prefix = "hsk_"

// Generate makes a new key: hsk_ + base64url(32 random bytes), its display prefix and its hash.
func Generate() (token, displayPrefix, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // the OS entropy source is gone: nothing is safe
	}
	token = Prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, token[:8], Hash(token)
}

// Hash is the stored form of a key: lowercase hex SHA-256 of the whole token.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Identity is who a request authenticated as.
type Identity struct {
	KeyID  string // empty for the legacy ADMIN_API_KEY
	Name   string
	Scopes []string
}

// Legacy is the identity of the ADMIN_API_KEY environment token.
var Legacy = Identity{Name: "legacy", Scopes: []string{string(FullAdmin)}}

// Authentication failures.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrExpired      = errors.New("API key expired")
)

// CacheTTL is how long a verified key is trusted without a database read. Revocation evicts the
// key on the instance that revoked it; other instances converge within this TTL.
const CacheTTL = 60 * time.Second

// UnknownTTL is how long a token that matched no key is refused without a database read: a
// flood of bogus tokens costs one query per token and interval. Tokens are random, so a key
// created meanwhile is never one of them.
const UnknownTTL = 10 * time.Second

type cached struct {
	id        Identity
	expiresAt *time.Time
	until     time.Time
}

// Service verifies and manages keys.
type Service struct {
	DB store.DBTX
	// LegacyKey is ADMIN_API_KEY; empty disables it.
	LegacyKey string
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time

	mu      sync.Mutex
	cache   map[string]cached
	unknown map[string]time.Time // token hash → refused without a lookup until
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Authenticate resolves a bearer token to an identity.
func (s *Service) Authenticate(ctx context.Context, token string) (Identity, error) {
	if token == "" {
		return Identity{}, ErrUnauthorized
	}
	if s.LegacyKey != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.LegacyKey)) == 1 {
		return Legacy, nil
	}
	hash := Hash(token)
	now := s.now()
	s.mu.Lock()
	c, ok := s.cache[hash]
	refusedUntil := s.unknown[hash]
	s.mu.Unlock()
	if now.Before(refusedUntil) {
		return Identity{}, ErrUnauthorized
	}
	if ok && now.Before(c.until) {
		if c.expiresAt != nil && c.expiresAt.Before(now) {
			return Identity{}, ErrExpired
		}
		return c.id, nil
	}
	k, err := store.ActiveAPIKeyByHash(ctx, s.DB, hash)
	if errors.Is(err, store.ErrNotFound) {
		s.refuse(hash, now.Add(UnknownTTL))
		return Identity{}, ErrUnauthorized
	}
	if err != nil {
		return Identity{}, fmt.Errorf("look up API key: %w", err)
	}
	if k.ExpiresAt != nil && k.ExpiresAt.Before(now) {
		return Identity{}, ErrExpired
	}
	id := Identity{KeyID: k.ID, Name: k.Name, Scopes: k.Scopes}
	s.remember(hash, cached{id: id, expiresAt: k.ExpiresAt, until: now.Add(CacheTTL)})
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > 5*time.Minute {
		go func() { // best effort: a failed touch never fails the request
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = store.TouchAPIKey(ctx, s.DB, k.ID)
		}()
	}
	return id, nil
}

const maxCached = 10_000

func (s *Service) remember(hash string, c cached) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache == nil || len(s.cache) >= maxCached {
		s.cache = map[string]cached{}
	}
	s.cache[hash] = c
}

func (s *Service) refuse(hash string, until time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unknown == nil || len(s.unknown) >= maxCached {
		s.unknown = map[string]time.Time{}
	}
	s.unknown[hash] = until
}

func (s *Service) forget(hash string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cache, hash)
}

// Created is a new key with its plaintext, which is never available again.
type Created struct {
	store.APIKey
	Token string
}

// NewKey describes a key to create.
type NewKey struct {
	Name      string
	Scopes    []Scope // empty = [read]
	ExpiresAt *time.Time
	CreatedBy string
}

func (n NewKey) row() (store.NewAPIKey, string) {
	token, prefix, hash := Generate()
	scopes := make([]string, 0, len(n.Scopes))
	for _, sc := range n.Scopes {
		if !slices.Contains(scopes, string(sc)) {
			scopes = append(scopes, string(sc))
		}
	}
	if len(scopes) == 0 {
		scopes = []string{string(Read)}
	}
	row := store.NewAPIKey{Name: n.Name, KeyPrefix: prefix, KeyHash: hash, Scopes: scopes, ExpiresAt: n.ExpiresAt}
	if n.CreatedBy != "" {
		row.CreatedBy = &n.CreatedBy
	}
	if row.ExpiresAt != nil {
		utc := row.ExpiresAt.UTC()
		row.ExpiresAt = &utc
	}
	return row, token
}

// Create stores a new key.
func (s *Service) Create(ctx context.Context, n NewKey) (Created, error) {
	row, token := n.row()
	k, err := store.InsertAPIKey(ctx, s.DB, row)
	if err != nil {
		return Created{}, fmt.Errorf("create API key: %w", err)
	}
	return Created{APIKey: k, Token: token}, nil
}

// MintFirst creates n only if the database holds no key at all; ok reports whether it did.
func (s *Service) MintFirst(ctx context.Context, n NewKey) (Created, bool, error) {
	row, token := n.row()
	k, ok, err := store.InsertFirstAPIKey(ctx, s.DB, row)
	if err != nil || !ok {
		return Created{}, false, err
	}
	return Created{APIKey: k, Token: token}, true, nil
}

// List pages keys newest first.
func (s *Service) List(ctx context.Context, includeRevoked bool, limit, offset int) ([]store.APIKey, int, error) {
	return store.ListAPIKeys(ctx, s.DB, includeRevoked, limit, offset)
}

// Revoke revokes an active key at once on this instance; store.ErrNotFound when it is missing
// or already revoked.
func (s *Service) Revoke(ctx context.Context, id string) error {
	hash, err := store.RevokeAPIKey(ctx, s.DB, id)
	if err != nil {
		return err
	}
	s.forget(hash)
	return nil
}

// Rotate replaces an active key with a new one of the same name, scopes and expiry, in one
// transaction; store.ErrNotFound when the old key is missing or revoked.
func (s *Service) Rotate(ctx context.Context, id, actor string) (Created, error) {
	var out Created
	var oldHash string
	err := store.WithTx(ctx, s.DB, func(tx pgx.Tx) error {
		old, err := store.ActiveAPIKeyByID(ctx, tx, id)
		if err != nil {
			return err
		}
		scopes := make([]Scope, len(old.Scopes))
		for i, sc := range old.Scopes {
			scopes[i] = Scope(sc)
		}
		row, token := NewKey{Name: old.Name, Scopes: scopes, ExpiresAt: old.ExpiresAt, CreatedBy: actor}.row()
		k, err := store.InsertAPIKey(ctx, tx, row)
		if err != nil {
			return err
		}
		if oldHash, err = store.RevokeAPIKey(ctx, tx, id); err != nil {
			return err
		}
		out = Created{APIKey: k, Token: token}
		return nil
	})
	if err != nil {
		return Created{}, err
	}
	s.forget(oldHash)
	return out, nil
}
