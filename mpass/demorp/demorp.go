// Package demorp is the demo's relying service: a page that logs people in
// through MPass with crewjam/saml's samlsp, as any Go service would, and
// shows what MPass said about them. It knows MPass only by its metadata.
package demorp

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/crewjam/saml/samlsp"

	"github.com/semnat/semnat/mpass"
	"github.com/semnat/semnat/service"
)

// Path is where the demo service is mounted.
const Path = "/demo-sp"

// RP is the demo relying service.
type RP struct {
	mw  *samlsp.Middleware
	mux *http.ServeMux
}

// New builds the relying service at base+Path, trusting the identity
// provider of idpMetadata. Its key is made now: register Metadata with
// MPass at each start.
func New(base string, idpMetadata []byte) (*RP, error) {
	idp, err := samlsp.ParseMetadata(idpMetadata)
	if err != nil {
		return nil, fmt.Errorf("demorp: the identity provider's metadata: %w", err)
	}
	root, err := url.Parse(strings.TrimRight(base, "/") + Path + "/") // samlsp resolves saml/acs against it
	if err != nil {
		return nil, fmt.Errorf("demorp: %w", err)
	}
	key, cert, err := mpass.SelfSigned("demo relying service", time.Now(), 1)
	if err != nil {
		return nil, err
	}
	mw, err := samlsp.New(samlsp.Options{URL: *root, Key: key, Certificate: cert, IDPMetadata: idp, SignRequest: true,
		CookieName: "semnat_demo_sp", DefaultRedirectURI: Path + "/"})
	if err != nil {
		return nil, fmt.Errorf("demorp: %w", err)
	}
	rp := &RP{mw: mw, mux: http.NewServeMux()}
	rp.mux.Handle(Path+"/saml/", mw)
	rp.mux.HandleFunc(Path+"/logout", mw.HandleStartLogout)
	rp.mux.Handle(Path+"/", mw.RequireAccount(http.HandlerFunc(rp.home)))
	return rp, nil
}

// Metadata is the service's SAML metadata, to register with MPass.
func (rp *RP) Metadata() ([]byte, error) {
	return xml.MarshalIndent(rp.mw.ServiceProvider.Metadata(), "", "  ")
}

// Service mounts the relying service on a host.
func (rp *RP) Service() service.Service {
	return service.Handler("demo-rp", rp.mux, nil, Path+"/", Path+"/*")
}

var page = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="ro"><head><meta charset="utf-8"><title>Serviciu demonstrativ</title>
<link rel="stylesheet" href="/mpass/static/mpass.css"></head>
<body><header><strong>Serviciu demonstrativ</strong></header><main>
<h1>Bun venit, {{.Name}}</h1>
<p>MPass a trimis acestui serviciu:</p>
<table id="attributes">
<tr><th>NameID</th><td id="nameid">{{.NameID}}</td></tr>
{{range .Attrs}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
<form method="post" action="` + Path + `/logout"><button type="submit" id="logout">Ieșire</button></form>
</main></body></html>
`))

type attr struct{ Name, Value string }

func (rp *RP) home(w http.ResponseWriter, r *http.Request) {
	sess := samlsp.SessionFromContext(r.Context())
	sa, _ := sess.(samlsp.SessionWithAttributes)
	var attrs []attr
	nameID := ""
	if sa != nil {
		for k, vs := range sa.GetAttributes() {
			attrs = append(attrs, attr{k, strings.Join(vs, ", ")})
		}
	}
	if sn, ok := sess.(samlsp.SessionWithNameID); ok {
		nameID = sn.GetNameID()
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].Name < attrs[j].Name })
	name := ""
	if sa != nil {
		name = strings.TrimSpace(sa.GetAttributes().Get("FirstName") + " " + sa.GetAttributes().Get("LastName"))
	}
	var b bytes.Buffer
	if err := page.Execute(&b, struct {
		Name, NameID string
		Attrs        []attr
	}{name, nameID, attrs}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}
