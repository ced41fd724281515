package mpass

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/semnat/semnat/store"
)

// Store kinds of the service's state.
const (
	kindSP      = "mpass.sp"      // registered relying services, by entity id (Forever)
	kindMsgID   = "mpass.msgid"   // single-use message ids, until they could no longer be accepted
	kindLogin   = "mpass.login"   // login transactions, LoginTTL
	kindSession = "mpass.session" // SSO sessions by the SHA-256 of their cookie, SessionTTL
)

// MaxMetadata bounds a relying service's metadata document.
const MaxMetadata = 256 << 10

// SP is a registered relying service.
type SP struct {
	EntityID string    `json:"entityId"`
	Metadata []byte    `json:"metadata"` // the EntityDescriptor as registered
	Options  SPOptions `json:"options"`
	Added    time.Time `json:"added"`
}

// SPInfo is what `semnat mpass sp list` shows of a registration.
type SPInfo struct {
	EntityID   string    `json:"entityId"`
	ACS        []string  `json:"acs"`              // assertion consumer service URLs
	SigningKey bool      `json:"signingKey"`       // a certificate its AuthnRequests are checked with
	Encrypts   bool      `json:"encrypts"`         // the metadata publishes an encryption certificate
	Logout     []string  `json:"logout,omitempty"` // single logout service URLs
	Options    SPOptions `json:"options"`
	Added      time.Time `json:"added"`
}

// Registry is the register of relying services, kept in the store. It is
// the saml.ServiceProviderProvider of the identity provider.
type Registry struct {
	Store *store.Store

	mu    sync.Mutex
	cache map[string]parsedSP // entity id → the registration last parsed
}

// parsedSP is a registration's metadata as parsed, kept while the stored
// registration is the same (its digest): parsing the XML on every
// AuthnRequest costs more than the rest of the lookup. Read only.
type parsedSP struct {
	sum [32]byte
	sp  *SP
	ed  *saml.EntityDescriptor
}

// ParseSPMetadata reads a relying service's metadata (one
// EntityDescriptor) and checks that MPass can serve it: an SPSSODescriptor
// with an assertion consumer service over HTTP-POST and a signing
// certificate (MPass accepts signed AuthnRequests only).
func ParseSPMetadata(data []byte) (*saml.EntityDescriptor, error) {
	if len(data) > MaxMetadata {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrBadSP, len(data), MaxMetadata)
	}
	ed, err := samlsp.ParseMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSP, err)
	}
	if ed.EntityID == "" {
		return nil, fmt.Errorf("%w: the EntityDescriptor has no entityID", ErrBadSP)
	}
	if len(ed.SPSSODescriptors) == 0 {
		return nil, fmt.Errorf("%w: %s has no SPSSODescriptor (is this an identity provider's metadata?)", ErrBadSP, ed.EntityID)
	}
	info := infoOf(SP{EntityID: ed.EntityID}, ed)
	if len(info.ACS) == 0 {
		return nil, fmt.Errorf("%w: %s has no AssertionConsumerService with the HTTP-POST binding", ErrBadSP, ed.EntityID)
	}
	if !info.SigningKey {
		return nil, fmt.Errorf("%w: %s publishes no signing certificate (KeyDescriptor use=\"signing\"); MPass accepts signed AuthnRequests only", ErrBadSP, ed.EntityID)
	}
	return ed, nil
}

func infoOf(sp SP, ed *saml.EntityDescriptor) SPInfo {
	info := SPInfo{EntityID: sp.EntityID, Added: sp.Added, Options: sp.Options}
	for _, d := range ed.SPSSODescriptors {
		for _, a := range d.AssertionConsumerServices {
			if a.Binding == saml.HTTPPostBinding {
				info.ACS = append(info.ACS, a.Location)
			}
		}
		for _, l := range d.SingleLogoutServices {
			info.Logout = append(info.Logout, l.Location)
		}
		for _, k := range d.KeyDescriptors {
			hasCert := len(k.KeyInfo.X509Data.X509Certificates) > 0
			switch k.Use {
			case "signing":
				info.SigningKey = info.SigningKey || hasCert
			case "encryption":
				info.Encrypts = info.Encrypts || hasCert
			case "":
				info.SigningKey = info.SigningKey || hasCert
				info.Encrypts = info.Encrypts || hasCert
			}
		}
	}
	return info
}

// Add registers (or replaces) the relying service of the metadata, with
// its options.
func (r *Registry) Add(ctx context.Context, metadata []byte, opts SPOptions, now time.Time) (*SPInfo, error) {
	ed, err := ParseSPMetadata(metadata)
	if err != nil {
		return nil, err
	}
	if err := opts.check(ed); err != nil {
		return nil, err
	}
	sp := SP{EntityID: ed.EntityID, Metadata: metadata, Options: opts, Added: now.UTC()}
	b, err := json.Marshal(sp)
	if err != nil {
		return nil, err
	}
	if err := r.Store.Put(ctx, kindSP, sp.EntityID, b, store.Forever); err != nil {
		return nil, err
	}
	info := infoOf(sp, ed)
	return &info, nil
}

// Get returns a registration (ErrUnknownSP when there is none).
func (r *Registry) Get(ctx context.Context, entityID string) (*SP, *saml.EntityDescriptor, error) {
	if sp, ed := memoSP(ctx, entityID); sp != nil {
		return sp, ed, nil
	}
	b, err := r.Store.Get(ctx, kindSP, entityID)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return nil, nil, fmt.Errorf("%w: %q", ErrUnknownSP, entityID)
	}
	if err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(b)
	r.mu.Lock()
	p, ok := r.cache[entityID]
	r.mu.Unlock()
	if ok && p.sum == sum {
		rememberSP(ctx, p.sp, p.ed)
		return p.sp, p.ed, nil
	}
	var sp SP
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, nil, fmt.Errorf("mpass: the registration of %q is damaged: %w", entityID, err)
	}
	ed, err := samlsp.ParseMetadata(sp.Metadata)
	if err != nil {
		return nil, nil, fmt.Errorf("mpass: the registered metadata of %q: %w", entityID, err)
	}
	r.mu.Lock()
	if r.cache == nil || len(r.cache) >= maxCachedSPs {
		r.cache = map[string]parsedSP{}
	}
	r.cache[entityID] = parsedSP{sum: sum, sp: &sp, ed: ed}
	r.mu.Unlock()
	rememberSP(ctx, &sp, ed)
	return &sp, ed, nil
}

// maxCachedSPs bounds the parsed registrations kept (emptied when full).
const maxCachedSPs = 1024

// List returns every registration.
func (r *Registry) List(ctx context.Context) ([]SPInfo, error) {
	items, err := r.Store.List(ctx, kindSP)
	if err != nil {
		return nil, err
	}
	out := make([]SPInfo, 0, len(items))
	for _, it := range items {
		var sp SP
		if err := json.Unmarshal(it.Value, &sp); err != nil {
			return nil, fmt.Errorf("mpass: the registration of %q is damaged: %w", it.ID, err)
		}
		ed, err := samlsp.ParseMetadata(sp.Metadata)
		if err != nil {
			return nil, fmt.Errorf("mpass: the registered metadata of %q: %w", it.ID, err)
		}
		out = append(out, infoOf(sp, ed))
	}
	return out, nil
}

// Remove deletes a registration (ErrUnknownSP when there is none).
func (r *Registry) Remove(ctx context.Context, entityID string) error {
	if _, err := r.Store.Take(ctx, kindSP, entityID); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
			return fmt.Errorf("%w: %q", ErrUnknownSP, entityID)
		}
		return err
	}
	return nil
}

// GetServiceProvider implements saml.ServiceProviderProvider.
func (r *Registry) GetServiceProvider(req *http.Request, entityID string) (*saml.EntityDescriptor, error) {
	_, ed, err := r.Get(req.Context(), entityID)
	if errors.Is(err, ErrUnknownSP) {
		return nil, os.ErrNotExist
	}
	return ed, err
}

// replayCache records message ids in the store: each is accepted once
// while it could still be accepted (saml.AssertionReplayCache).
type replayCache struct {
	st  *store.Store
	now func() time.Time
}

func (c replayCache) Consume(id string, expiresAt time.Time) error {
	ttl := expiresAt.Sub(c.now())
	if ttl < time.Minute {
		ttl = time.Minute
	}
	// In a group transaction: of the requests arriving together, one
	// commit records every id (each still refused if recorded before).
	err := c.st.InGroupTx(context.Background(), func(tx *store.Tx) error {
		return tx.PutNew(context.Background(), kindMsgID, id, []byte{1}, ttl)
	})
	if errors.Is(err, store.ErrExists) {
		return saml.ErrAssertionReplayed
	}
	return err
}

// hostOf is the host of a URL, for messages.
func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return u
}
