package mpass

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/crewjam/saml"
)

// The light load generator of BenchmarkSSOResponse's HTTP-Redirect
// variants, on the model of bench/loadgen: the relying service's signed
// AuthnRequests are made before the clock starts (crewjam's own
// AuthnRequest.Redirect, one per Response, each with its own id), written
// as pre-encoded HTTP/1.1 GETs carrying the browser's cookies on raw
// keep-alive connections, and each reply read with a minimal parser.
// Every reply must be a 200 page without Set-Cookie that auto-posts a
// SAMLResponse answering its request (InResponseTo) with a success status
// and a signature; every 256th is also checked in full by the relying
// service (crewjam samlsp's ParseXMLResponse: signature with MPass's
// certificate, Destination, Audience, times, InResponseTo) and must name
// the session's person.

// redirectReq is one pre-encoded GET of an AuthnRequest.
type redirectReq struct {
	id   string // the AuthnRequest's ID, the Response's InResponseTo
	wire []byte
}

// redirectRequests makes n HTTP-Redirect AuthnRequests of sp, as
// MakeRedirectAuthenticationRequest does, each a GET with the cookies the
// client c would send with it.
func redirectRequests(b testing.TB, sp *saml.ServiceProvider, c *http.Client, n int) []redirectReq {
	b.Helper()
	out := make([]redirectReq, n)
	for i := range out {
		ar, err := sp.MakeAuthenticationRequest(sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
		if err != nil {
			b.Fatal(err)
		}
		u, err := ar.Redirect("", sp)
		if err != nil {
			b.Fatal(err)
		}
		cookies := http.Header{}
		hr := &http.Request{Header: cookies}
		for _, ck := range c.Jar.Cookies(u) {
			hr.AddCookie(ck)
		}
		var w bytes.Buffer
		fmt.Fprintf(&w, "GET %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
		if v := cookies.Get("Cookie"); v != "" {
			fmt.Fprintf(&w, "Cookie: %s\r\n", v)
		}
		w.WriteString("\r\n")
		out[i] = redirectReq{id: ar.ID, wire: w.Bytes()}
	}
	return out
}

// rawConn is one keep-alive connection of the light client, with the
// buffers its replies are read into.
type rawConn struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	body []byte
	resp []byte // the decoded SAMLResponse
}

// roundTrip sends one request and reads its reply's body into rc.body
// (HTTP/1.1 with Content-Length or chunked; the server must keep the
// connection open and set no cookie).
func (rc *rawConn) roundTrip(wire []byte) error {
	if rc.conn == nil {
		c, err := net.Dial("tcp", rc.addr)
		if err != nil {
			return err
		}
		rc.conn, rc.br = c, bufio.NewReaderSize(c, 16<<10)
	}
	if _, err := rc.conn.Write(wire); err != nil {
		return err
	}
	line, err := rc.br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("reply %q", bytes.TrimSpace(line))
	}
	length, chunked := -1, false
	for {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case asciiEqualFold(name, "Content-Length"):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return fmt.Errorf("Content-Length %q", value)
			}
		case asciiEqualFold(name, "Transfer-Encoding"):
			chunked = asciiEqualFold(value, "chunked")
		case asciiEqualFold(name, "Set-Cookie"):
			return fmt.Errorf("the reply sets a cookie (%q): the pre-encoded requests would no longer be the browser's", value)
		case asciiEqualFold(name, "Connection") && asciiEqualFold(value, "close"):
			return errors.New("the server closes the connection")
		}
	}
	rc.body = rc.body[:0]
	if !chunked {
		if length < 0 {
			return errors.New("a reply without Content-Length or chunked encoding")
		}
		return rc.read(length)
	}
	for {
		line, err := rc.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 31)
		if err != nil {
			return fmt.Errorf("chunk size %q", line)
		}
		if size == 0 {
			if line, err = rc.br.ReadSlice('\n'); err != nil || len(line) != 2 { // no trailers
				return fmt.Errorf("after the last chunk: %q %v", line, err)
			}
			return nil
		}
		if err := rc.read(int(size) + 2); err != nil {
			return err
		}
		rc.body = rc.body[:len(rc.body)-2] // the chunk's CRLF
	}
}

// read appends n bytes of the reply to rc.body.
func (rc *rawConn) read(n int) error {
	l := len(rc.body)
	rc.body = slices.Grow(rc.body, n)[:l+n]
	_, err := io.ReadFull(rc.br, rc.body[l:])
	return err
}

func asciiEqualFold(b []byte, s string) bool {
	return len(b) == len(s) && bytes.EqualFold(b, []byte(s))
}

var (
	samlResponseField = []byte(`name="SAMLResponse" value="`)
	statusSuccess     = []byte(`<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"`)
	signatureValue    = []byte(`<ds:SignatureValue>`)
	escapedPlus       = []byte("&#43;") // html/template's escape of + in an attribute
)

// checkReply is the check of every reply: rc.body is a page posting a
// signed SAMLResponse with a success status that answers the request id.
// It leaves the decoded Response in rc.resp.
func (rc *rawConn) checkReply(id string) error {
	_, rest, ok := bytes.Cut(rc.body, samlResponseField)
	end := bytes.IndexByte(rest, '"')
	if !ok || end < 0 {
		return errStatus(http.StatusOK, rc.body)
	}
	v := rest[:end]
	if bytes.IndexByte(v, '&') >= 0 {
		v = bytes.ReplaceAll(v, escapedPlus, []byte("+"))
	}
	var err error
	if rc.resp, err = base64.StdEncoding.AppendDecode(rc.resp[:0], v); err != nil {
		return fmt.Errorf("SAMLResponse: %w", err)
	}
	if !bytes.Contains(rc.resp, []byte(` InResponseTo="`+id+`"`)) || !bytes.Contains(rc.resp, statusSuccess) ||
		!bytes.Contains(rc.resp, signatureValue) {
		return fmt.Errorf("not a signed successful Response to %s: %.400s", id, rc.resp)
	}
	return nil
}

// checkFully is the full check of a sample: the relying service accepts
// the Response (its signature, Destination, Audience, times, InResponseTo)
// and it names idnp. The value is read as a browser would (html.Unescape).
func checkFully(sp *saml.ServiceProvider, body []byte, id, idnp string) error {
	_, rest, _ := bytes.Cut(body, samlResponseField)
	v, _, _ := bytes.Cut(rest, []byte(`"`))
	xml, err := base64.StdEncoding.DecodeString(html.UnescapeString(string(v)))
	if err != nil {
		return err
	}
	a, err := sp.ParseXMLResponse(xml, []string{id}, sp.AcsURL)
	if err != nil {
		var ire *saml.InvalidResponseError
		if errors.As(err, &ire) {
			err = fmt.Errorf("%w: %v", err, ire.PrivateErr)
		}
		return fmt.Errorf("the relying service refuses the Response: %w", err)
	}
	if a.Subject == nil || a.Subject.NameID == nil || a.Subject.NameID.Value != idnp {
		return fmt.Errorf("the Response does not name %s", idnp)
	}
	return nil
}

// runRedirectClients measures reqs (one per operation) from benchClients
// raw connections to addr (host:port).
func runRedirectClients(b *testing.B, addr string, sp *saml.ServiceProvider, reqs []redirectReq, idnp string) {
	conns := make(chan *rawConn, benchClients)
	for range benchClients {
		conns <- &rawConn{addr: addr}
	}
	defer func() {
		for range benchClients {
			if rc := <-conns; rc.conn != nil {
				rc.conn.Close()
			}
		}
	}()
	var next atomic.Int64
	runClients(b, "responses/s", func() error {
		n := next.Add(1) - 1
		r := reqs[n]
		rc := <-conns
		defer func() { conns <- rc }()
		err := rc.roundTrip(r.wire)
		if err == nil {
			err = rc.checkReply(r.id)
		}
		if err == nil && n%256 == 0 {
			err = checkFully(sp, rc.body, r.id, idnp)
		}
		if err != nil && rc.conn != nil {
			rc.conn.Close()
			rc.conn = nil
		}
		return err
	})
}

// redirectHost is the host:port of MPass's SSO URL in u.
func redirectHost(b testing.TB, u string) string {
	p, err := url.Parse(u)
	if err != nil {
		b.Fatal(err)
	}
	return p.Host
}
