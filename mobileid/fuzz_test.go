package mobileid

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func FuzzParseCMS(f *testing.F) {
	pki := privatePKI(f)
	e := pki.MustGet("mobile-p256")
	der, err := buildCMS(e.Cert, e.Chain, cryptoSHA256, make([]byte, 32), []byte("x"), time.Now(), func(d []byte) ([]byte, error) {
		return rawSign(e.Key, cryptoSHA256, d)
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(der)
	f.Add([]byte{0x30, 0x03, 0x06, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCMS(b)
		if err == nil && (c.signer == nil || c.messageDigest == nil) {
			t.Fatal("parsed without signer or messageDigest")
		}
	})
}

func FuzzMIDRequest(f *testing.F) {
	f.Add([]byte(`{"relyingPartyUUID":"00000000-0000-0000-0000-000000000000","relyingPartyName":"DEMO","phoneNumber":"+37300000001","nationalIdentityNumber":"2004005000014","hash":"AE7S1QxYjqtVv+Tgukv2bMMi9gDCbc9ca2vy/iIG6ug=","hashType":"SHA256","language":"ENG","displayText":"x"}`))
	f.Add([]byte(`{"displayTextFormat":"UCS-2","displayText":"\u021b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, h, digest, code, msg := parseMIDRequest(b, true)
		if code == 0 && (req == nil || len(digest) != h.Size() || CheckDisplayText(req.DisplayText, TextFormat(req.DisplayTextFormat)) != nil) {
			t.Fatal("accepted an invalid request")
		}
		if code != 0 && msg == "" {
			t.Fatal("refusal without a message")
		}
	})
}

// FuzzETSIHandler sends arbitrary bodies to the ETSI face: it must always
// answer JSON (200 or a 500 fault), never panic.
func FuzzETSIHandler(f *testing.F) {
	s, _ := sharedSim(f)
	h := s.Handler()
	f.Add("sign", []byte(`{"MSS_SignatureReq":{"MessagingMode":"asynchClientServer","AP_Info":{"AP_ID":"http://ap.semnat.test","AP_PWD":"semnat-demo","AP_TransID":"f1"},"MobileUser":{"MSISDN":"+37369000999"},"DataToBeSigned":{"Data":"q83vEjRWeJA=","MimeType":"application/octet-stream","Encoding":"base64"}}}`))
	f.Add("", []byte(`{"MSS_ProfileReq":{"AP_Info":{"AP_ID":"http://ap.semnat.test","AP_PWD":"semnat-demo"},"MobileUser":{"MSISDN":"+37300000001"},"Params":"certs"}}`))
	f.Add("status", []byte(`{"MSS_StatusReq":{"AP_Info":{"AP_ID":"http://ap.semnat.test","AP_PWD":"semnat-demo"},"MSSP_TransID":{"Value":1}}}`))
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		if len(op) > 20 {
			return
		}
		for _, c := range op { // the op is a path segment: letters only
			if c < 'a' || c > 'z' {
				return
			}
		}
		path := "/rest/service"
		if op != "" {
			path += "/" + op
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		h.ServeHTTP(rec, req)
		// Every POST under /rest/service (any op of letters) reaches the
		// ETSI face: the answer is a JSON document, a result or a fault.
		if rec.Code != 200 && rec.Code != 400 && rec.Code != 401 && rec.Code != 413 && rec.Code != 500 {
			t.Fatalf("HTTP %d for POST %s: %s", rec.Code, path, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("POST %s: HTTP %d, %q, not JSON: %s", path, rec.Code, ct, rec.Body)
		}
	})
}

func FuzzParseUsers(f *testing.F) {
	f.Add([]byte(`{"users":[{"msisdn":"+37369123456","given_name":"Ion","surname":"Popa","idnp":"2004005000014","operator":"orange","behaviour":"ok"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		users, err := ParseUsers(b)
		if err != nil {
			return
		}
		for _, u := range users {
			if normalizeMSISDN(u.MSISDN) != u.MSISDN || u.PIN2 == "" || u.Behaviour == "" {
				t.Fatalf("unchecked user %+v", u)
			}
		}
	})
}

func FuzzFitDisplayText(f *testing.F) {
	f.Add("Semnați contractul?")
	f.Add("Подписать договор?")
	f.Fuzz(func(t *testing.T, s string) {
		out, format := FitDisplayText(s)
		if err := CheckDisplayText(out, format); err != nil {
			t.Fatalf("FitDisplayText(%q) = %q %s: %v", s, out, format, err)
		}
		_ = PhoneText(s, GSM7)
	})
}

// FuzzResume: a pending state read back from a store (JSON) that was
// damaged or forged gives an error or a Pending that keeps the digest and
// code it was given, never a panic.
func FuzzResume(f *testing.F) {
	f.Add([]byte(`{"face":"etsi","id":"T1","apTransId":"S1","code":"6008","msisdn":"+37369000001","hash":"SHA-256","digest":"xx"}`))
	f.Add([]byte(`{"face":"mid","id":"s","code":"0000","msisdn":"+373","hash":"SHA-512","digest":"AAAA","certificate":"MAA=","chain":["MAA="]}`))
	f.Add([]byte(`{}`))
	_, base := sharedSim(f)
	clients := map[Face]*Client{FaceMID: newTestClient(f, base, FaceMID, nil), FaceETSI: newTestClient(f, base, FaceETSI, nil)}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var st PendingState
		if json.Unmarshal(raw, &st) != nil {
			return
		}
		for _, c := range clients {
			p, err := c.Resume(st)
			if err != nil {
				continue
			}
			if p.VerificationCode() != VerificationCode(st.Digest) || p.ID() != st.ID {
				t.Fatalf("resumed %s/%s from %+v", p.ID(), p.VerificationCode(), st)
			}
		}
	})
}
