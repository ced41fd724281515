//go:build js && wasm

// Command semnat-verify-wasm is the PAdES verifier for the browser
// (GOOS=js GOARCH=wasm): the verify page hands it the PDF's bytes and the
// server's trust anchors, and it answers with the report of
// `semnat verify --json`, so that the document never leaves the computer.
// It has no store, no HTTP server and no network access of its own:
// revocation is what the file carries (DSS, embedded OCSP responses and
// CRLs), and for what is missing it asks the page's revocation function,
// which takes to the server's proxy an OCSP request holding the
// certificate's CertID only; the answer is checked here like embedded data.
//
// It defines one global function:
//
//	semnatVerify(pdf Uint8Array, trustPEM string, fileName string,
//	             revocation ?function(Uint8Array) Promise<Uint8Array>) → Promise<string>
//
// which resolves with the report's JSON or rejects with an Error whose
// message says what was wrong.
package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/semnat/semnat/ocsp"
	"github.com/semnat/semnat/pades/verifyjson"
)

func main() {
	js.Global().Set("semnatVerify", js.FuncOf(verify))
	select {} // keep the module alive for later verifications
}

// verify is semnatVerify: it returns a Promise and verifies in a goroutine
// so that the page stays responsive.
func verify(_ js.Value, args []js.Value) any {
	var doc []byte
	trust := ""
	if len(args) > 0 && args[0].InstanceOf(js.Global().Get("Uint8Array")) {
		doc = make([]byte, args[0].Length())
		js.CopyBytesToGo(doc, args[0])
	}
	if len(args) > 1 && args[1].Type() == js.TypeString {
		trust = args[1].String()
	}
	name := ""
	if len(args) > 2 && args[2].Type() == js.TypeString {
		name = args[2].String()
	}
	opts := verifyjson.Options{File: name}
	if len(args) > 3 && args[3].Type() == js.TypeFunction {
		opts.Fetcher = jsFetcher{args[3]}
	}
	handler := js.FuncOf(func(_ js.Value, p []js.Value) any {
		resolve, reject := p[0], p[1]
		go func() {
			out, err := verifyjson.Verify(context.Background(), doc, []byte(trust), opts)
			if err != nil {
				reject.Invoke(js.Global().Get("Error").New(err.Error()))
				return
			}
			resolve.Invoke(string(out))
		}()
		return nil
	})
	defer handler.Release()
	return js.Global().Get("Promise").New(handler)
}

// jsFetcher asks the page's revocation function with an OCSP request
// holding the certificate's CertID (SHA-1 hashes of its issuer's name and
// key, its serial number) and nothing else.
type jsFetcher struct{ fn js.Value }

// maxAnswer bounds what the page's function may hand back.
const maxAnswer = 256 << 10

func (f jsFetcher) FetchOCSP(ctx context.Context, cert, issuer *x509.Certificate) ([]byte, error) {
	id, err := ocsp.NewCertID(crypto.SHA1, issuer, cert.SerialNumber)
	if err != nil {
		return nil, err
	}
	req, err := (&ocsp.Request{CertIDs: []ocsp.CertID{id}}).Marshal()
	if err != nil {
		return nil, err
	}
	arr := js.Global().Get("Uint8Array").New(len(req))
	js.CopyBytesToJS(arr, req)
	type answer struct {
		der []byte
		err error
	}
	ch := make(chan answer, 1)
	ok := js.FuncOf(func(_ js.Value, a []js.Value) any {
		if len(a) == 0 || !a[0].InstanceOf(js.Global().Get("Uint8Array")) {
			ch <- answer{err: errors.New("the page's revocation function did not answer with bytes")}
		} else if n := a[0].Length(); n > maxAnswer {
			ch <- answer{err: fmt.Errorf("the revocation answer has %d bytes (at most %d)", n, maxAnswer)}
		} else {
			der := make([]byte, n)
			js.CopyBytesToGo(der, a[0])
			ch <- answer{der: der}
		}
		return nil
	})
	fail := js.FuncOf(func(_ js.Value, a []js.Value) any {
		msg := "the revocation request failed"
		if len(a) > 0 && a[0].Type() == js.TypeObject && a[0].Get("message").Type() == js.TypeString {
			msg = a[0].Get("message").String()
		}
		ch <- answer{err: errors.New(msg)}
		return nil
	})
	defer ok.Release()
	defer fail.Release()
	// The page's function bounds its own time (its fetch has a timeout):
	// the callbacks must stay alive until the promise settles.
	js.Global().Get("Promise").Call("resolve", f.fn.Invoke(arr)).Call("then", ok, fail)
	a := <-ch
	return a.der, a.err
}
