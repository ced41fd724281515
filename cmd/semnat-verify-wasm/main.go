//go:build js && wasm

// Command semnat-verify-wasm is the PAdES verifier for the browser
// (GOOS=js GOARCH=wasm): the verify page hands it the PDF's bytes and the
// server's trust anchors, and it answers with the report of
// `semnat verify --json`, so that the document never leaves the computer.
// It has no store, no HTTP server and no network access: revocation is
// what the file carries (DSS, embedded OCSP responses and CRLs).
//
// It defines one global function:
//
//	semnatVerify(pdf Uint8Array, trustPEM string, fileName string) → Promise<string>
//
// which resolves with the report's JSON or rejects with an Error whose
// message says what was wrong.
package main

import (
	"context"
	"syscall/js"

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
	handler := js.FuncOf(func(_ js.Value, p []js.Value) any {
		resolve, reject := p[0], p[1]
		go func() {
			out, err := verifyjson.Verify(context.Background(), doc, []byte(trust), verifyjson.Options{File: name})
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
