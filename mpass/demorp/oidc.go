package demorp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/semnat/semnat/service"
)

// OIDCPath is where the demo's OpenID Connect client is mounted.
const OIDCPath = "/demo-oidc"

// OIDCClient is the demo's OpenID Connect client: coreos/go-oidc and
// x/oauth2, as any Go service would log people in through MPass's OpenID
// provider (code flow with PKCE, state and nonce), and a page that shows
// the ID token's claims.
type OIDCClient struct {
	issuer, base     string
	clientID, secret string
	mux              *http.ServeMux

	mu       sync.Mutex
	provider *gooidc.Provider          // discovered at the first login (the server is not up before)
	pending  map[string]pendingLogin   // by state
	sessions map[string]map[string]any // by cookie: the ID token's claims
	raw      map[string]string         // by cookie: the ID token, for logout
}

type pendingLogin struct {
	nonce, verifier string
	at              time.Time
}

// maxDemoEntries bounds the demo's in-memory logins and sessions.
const maxDemoEntries = 1000

// NewOIDC builds the client at base+OIDCPath for the provider issuer,
// registered there as clientID with secret.
func NewOIDC(base, issuer, clientID, secret string) *OIDCClient {
	c := &OIDCClient{issuer: issuer, base: strings.TrimRight(base, "/"), clientID: clientID, secret: secret, mux: http.NewServeMux(),
		pending: map[string]pendingLogin{}, sessions: map[string]map[string]any{}, raw: map[string]string{}}
	c.mux.HandleFunc("GET "+OIDCPath+"/{$}", c.home)
	c.mux.HandleFunc("GET "+OIDCPath+"/login", c.login)
	c.mux.HandleFunc("GET "+OIDCPath+"/callback", c.callback)
	c.mux.HandleFunc("POST "+OIDCPath+"/logout", c.logout)
	return c
}

// OIDCRedirectURI and OIDCPostLogoutURI are the URIs to register for the
// client at base.
func OIDCRedirectURI(base string) string {
	return strings.TrimRight(base, "/") + OIDCPath + "/callback"
}
func OIDCPostLogoutURI(base string) string { return strings.TrimRight(base, "/") + OIDCPath + "/" }

func (c *OIDCClient) RedirectURI() string   { return OIDCRedirectURI(c.base) }
func (c *OIDCClient) PostLogoutURI() string { return OIDCPostLogoutURI(c.base) }

// Service mounts the client on a host.
func (c *OIDCClient) Service() service.Service {
	return service.Handler("demo-oidc", c.mux, nil, OIDCPath+"/", OIDCPath+"/*")
}

func (c *OIDCClient) config(ctx context.Context) (*oauth2.Config, *gooidc.Provider, error) {
	c.mu.Lock()
	p := c.provider
	c.mu.Unlock()
	if p == nil {
		var err error
		if p, err = gooidc.NewProvider(ctx, c.issuer); err != nil {
			return nil, nil, fmt.Errorf("demo-oidc: discovery of %s: %w", c.issuer, err)
		}
		c.mu.Lock()
		c.provider = p
		c.mu.Unlock()
	}
	return &oauth2.Config{ClientID: c.clientID, ClientSecret: c.secret, RedirectURL: c.RedirectURI(), Endpoint: p.Endpoint(),
		Scopes: []string{gooidc.ScopeOpenID, "profile", "phone"}}, p, nil
}

func random() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *OIDCClient) login(w http.ResponseWriter, r *http.Request) {
	cfg, _, err := c.config(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	state, p := random(), pendingLogin{nonce: random(), verifier: oauth2.GenerateVerifier(), at: time.Now()}
	c.mu.Lock()
	if len(c.pending) >= maxDemoEntries {
		clear(c.pending)
	}
	c.pending[state] = p
	c.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "semnat_demo_oidc_state", Value: state, Path: OIDCPath, MaxAge: 600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, cfg.AuthCodeURL(state, gooidc.Nonce(p.nonce), oauth2.S256ChallengeOption(p.verifier)), http.StatusSeeOther)
}

func (c *OIDCClient) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ck, err := r.Cookie("semnat_demo_oidc_state")
	if err != nil || ck.Value != q.Get("state") {
		http.Error(w, "demo-oidc: the state does not match this browser's login", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	p, ok := c.pending[ck.Value]
	delete(c.pending, ck.Value)
	c.mu.Unlock()
	if !ok {
		http.Error(w, "demo-oidc: unknown or finished login", http.StatusBadRequest)
		return
	}
	if e := q.Get("error"); e != "" {
		c.render(w, http.StatusOK, "", nil, e+": "+q.Get("error_description"))
		return
	}
	cfg, prov, err := c.config(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	tok, err := cfg.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		http.Error(w, "demo-oidc: token: "+err.Error(), http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&gooidc.Config{ClientID: c.clientID, SupportedSigningAlgs: []string{"ES256", "RS256"}}).Verify(r.Context(), raw)
	if err == nil && idt.Nonce != p.nonce {
		err = errors.New("the nonce differs")
	}
	var claims map[string]any
	if err == nil {
		err = idt.Claims(&claims)
	}
	if err != nil {
		http.Error(w, "demo-oidc: ID token: "+err.Error(), http.StatusBadGateway)
		return
	}
	sid := random()
	c.mu.Lock()
	if len(c.sessions) >= maxDemoEntries {
		clear(c.sessions)
		clear(c.raw)
	}
	c.sessions[sid], c.raw[sid] = claims, raw
	c.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "semnat_demo_oidc", Value: sid, Path: OIDCPath, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, OIDCPath+"/", http.StatusSeeOther)
}

func (c *OIDCClient) session(r *http.Request) (string, map[string]any) {
	ck, err := r.Cookie("semnat_demo_oidc")
	if err != nil {
		return "", nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return ck.Value, c.sessions[ck.Value]
}

func (c *OIDCClient) home(w http.ResponseWriter, r *http.Request) {
	_, claims := c.session(r)
	if claims == nil {
		http.Redirect(w, r, OIDCPath+"/login", http.StatusSeeOther)
		return
	}
	name := fmt.Sprint(claims["given_name"], " ", claims["family_name"])
	c.render(w, http.StatusOK, name, claims, "")
}

// logout ends the client's session and MPass's (RP-initiated logout).
func (c *OIDCClient) logout(w http.ResponseWriter, r *http.Request) {
	sid, _ := c.session(r)
	c.mu.Lock()
	raw := c.raw[sid]
	delete(c.sessions, sid)
	delete(c.raw, sid)
	c.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "semnat_demo_oidc", Value: "", Path: OIDCPath, MaxAge: -1})
	var end struct {
		EndSession string `json:"end_session_endpoint"`
	}
	_, prov, err := c.config(r.Context())
	if err == nil {
		err = prov.Claims(&end)
	}
	if err != nil || end.EndSession == "" || raw == "" {
		http.Redirect(w, r, OIDCPath+"/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, end.EndSession+"?"+url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {c.PostLogoutURI()}}.Encode(), http.StatusSeeOther)
}

var oidcPage = template.Must(template.New("oidc").Parse(`<!doctype html>
<html lang="ro"><head><meta charset="utf-8"><title>Client OpenID Connect demonstrativ</title>
<link rel="stylesheet" href="/mpass/static/mpass.css"></head>
<body><header><strong>Client OpenID Connect demonstrativ</strong></header><main>
{{if .Problem}}<h1>Autentificarea nu a reușit</h1><p id="problem">{{.Problem}}</p><p><a href="` + OIDCPath + `/login">Încercați din nou</a></p>
{{else}}<h1>Bun venit, {{.Name}}</h1>
<p>MPass a trimis acestui client (ID token):</p>
<table id="claims">
{{range .Claims}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
<form method="post" action="` + OIDCPath + `/logout"><button type="submit" id="logout">Ieșire</button></form>{{end}}
</main></body></html>
`))

func (c *OIDCClient) render(w http.ResponseWriter, status int, name string, claims map[string]any, problem string) {
	var rows []attr
	for k, v := range claims {
		rows = append(rows, attr{k, fmt.Sprint(v)})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	var b bytes.Buffer
	if err := oidcPage.Execute(&b, struct {
		Name, Problem string
		Claims        []attr
	}{name, problem, rows}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}
