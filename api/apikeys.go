package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/hogsend/hogsend/internal/apikeys"
	"github.com/hogsend/hogsend/internal/ptr"
	"github.com/hogsend/hogsend/internal/store"
	"github.com/hogsend/hogsend/journey"
)

// apiKeyService is what the key routes need.
type apiKeyService interface {
	List(ctx context.Context, includeRevoked bool, limit, offset int) ([]store.APIKey, int, error)
	Create(ctx context.Context, n apikeys.NewKey) (apikeys.Created, error)
	Revoke(ctx context.Context, id string) error
	Rotate(ctx context.Context, id, actor string) (apikeys.Created, error)
}

type apiKeyHandlers struct {
	keys apiKeyService
}

type apiKeyJSON struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	KeyPrefix  string   `json:"keyPrefix"`
	Scopes     []string `json:"scopes"`
	CreatedBy  *string  `json:"createdBy"`
	LastUsedAt *string  `json:"lastUsedAt"`
	RevokedAt  *string  `json:"revokedAt"`
	ExpiresAt  *string  `json:"expiresAt"`
	CreatedAt  string   `json:"createdAt"`
}

// createdKeyJSON is the only shape that ever carries a plaintext key.
type createdKeyJSON struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Key         string   `json:"key"`
	KeyPrefix   string   `json:"keyPrefix"`
	Scopes      []string `json:"scopes"`
	ExpiresAt   *string  `json:"expiresAt"`
	CreatedAt   string   `json:"createdAt"`
	RotatedFrom string   `json:"rotatedFrom,omitempty"`
}

func createdJSON(k apikeys.Created) createdKeyJSON {
	return createdKeyJSON{ID: k.ID, Name: k.Name, Key: k.Token, KeyPrefix: k.KeyPrefix, Scopes: k.Scopes,
		ExpiresAt: ptr.Map(k.ExpiresAt, journey.Timestamp), CreatedAt: journey.Timestamp(k.CreatedAt)}
}

var errKeyNotFound = &HTTPError{Status: http.StatusNotFound, Message: "API key not found or already revoked"}

func (h *apiKeyHandlers) list(c *gin.Context) error {
	v := &ValidationError{}
	p := page(c, v)
	includeRevoked := boolQuery(c, "includeRevoked", v)
	if err := v.OrNil(); err != nil {
		return err
	}
	keys, total, err := h.keys.List(c, includeRevoked, p.Limit, p.Offset)
	if err != nil {
		return err
	}
	out := make([]apiKeyJSON, len(keys))
	for i, k := range keys {
		out[i] = apiKeyJSON{ID: k.ID, Name: k.Name, KeyPrefix: k.KeyPrefix, Scopes: k.Scopes, CreatedBy: k.CreatedBy,
			LastUsedAt: ptr.Map(k.LastUsedAt, journey.Timestamp), RevokedAt: ptr.Map(k.RevokedAt, journey.Timestamp),
			ExpiresAt: ptr.Map(k.ExpiresAt, journey.Timestamp), CreatedAt: journey.Timestamp(k.CreatedAt)}
	}
	c.JSON(http.StatusOK, gin.H{"keys": out, "total": total, "limit": p.Limit, "offset": p.Offset})
	return nil
}

type createKeyBody struct {
	Name      *string   `json:"name"`
	Scopes    *[]string `json:"scopes"`
	ExpiresAt *string   `json:"expiresAt"`
}

func (b createKeyBody) validate() (apikeys.NewKey, error) {
	v := &ValidationError{}
	var n apikeys.NewKey
	switch {
	case b.Name == nil:
		v.Add("name", "invalid_type", "required")
	case utf8.RuneCountInString(strings.TrimSpace(*b.Name)) < 1 || utf8.RuneCountInString(*b.Name) > 100:
		v.Add("name", "too_big", "must be 1 to 100 characters")
	default:
		n.Name = strings.TrimSpace(*b.Name)
	}
	if b.Scopes != nil {
		if len(*b.Scopes) == 0 {
			v.Add("scopes", "too_small", "must hold at least one scope")
		}
		for _, sc := range *b.Scopes {
			if !apikeys.Scope(sc).Valid() {
				v.Add("scopes", "invalid_enum_value", "unknown scope %q (read, journey-admin, full-admin, ingest)", sc)
				continue
			}
			n.Scopes = append(n.Scopes, apikeys.Scope(sc))
		}
	}
	if b.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *b.ExpiresAt)
		if err != nil {
			v.Add("expiresAt", "invalid_string", "must be an RFC 3339 date-time")
		} else {
			n.ExpiresAt = &t
		}
	}
	return n, v.OrNil()
}

func (h *apiKeyHandlers) create(c *gin.Context) error {
	var body createKeyBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	n, err := body.validate()
	if err != nil {
		return err
	}
	n.CreatedBy = identity(c).Name
	k, err := h.keys.Create(c, n)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, createdJSON(k))
	return nil
}

func (h *apiKeyHandlers) revoke(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if err := h.keys.Revoke(c, id); errors.Is(err, store.ErrNotFound) {
		return errKeyNotFound
	} else if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"revoked": true})
	return nil
}

func (h *apiKeyHandlers) rotate(c *gin.Context) error {
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	k, err := h.keys.Rotate(c, id, identity(c).Name)
	if errors.Is(err, store.ErrNotFound) {
		return errKeyNotFound
	} else if err != nil {
		return err
	}
	out := createdJSON(k)
	out.RotatedFrom = id
	c.JSON(http.StatusCreated, out)
	return nil
}
