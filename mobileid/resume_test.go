package mobileid

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

// TestResume: a request started by one client is waited on by another
// (a restarted server) from its JSON state, on both faces; the answer is
// verified as usual, and a state that was tampered with is refused.
func TestResume(t *testing.T) {
	s, base := sharedSim(t)
	for i, face := range []Face{FaceMID, FaceETSI} {
		t.Run(string(face), func(t *testing.T) {
			u := GeneratedUser(300 + i)
			first := newTestClient(t, base, face, nil)
			digest := randomDigest(t)
			p, err := first.Start(t.Context(), SignRequest{MSISDN: u.MSISDN, IDNP: u.IDNP, Digest: digest, Hash: cryptoSHA256, DisplayText: "Semnați?"})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := json.Marshal(p.State())
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(raw), DefaultPIN2) {
				t.Fatal("the state holds a PIN")
			}
			var st PendingState
			if err := json.Unmarshal(raw, &st); err != nil {
				t.Fatal(err)
			}
			second := newTestClient(t, base, face, nil)
			q, err := second.Resume(st)
			if err != nil {
				t.Fatal(err)
			}
			if q.VerificationCode() != p.VerificationCode() || q.ID() != p.ID() {
				t.Fatalf("resumed %s/%s, started %s/%s", q.ID(), q.VerificationCode(), p.ID(), p.VerificationCode())
			}
			waitPrompt(t, s, u.MSISDN)
			if code, out := postJSON(t, base+"/sim/"+u.MSISDN+"/confirm", map[string]string{"pin": DefaultPIN2}); code != 200 || out["result"] != PhoneSigned {
				t.Fatalf("confirm: %d %v", code, out)
			}
			res, err := q.Wait(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if res.Certificate.Subject.SerialNumber != u.IDNP {
				t.Fatalf("signed by %v", res.Certificate.Subject)
			}
			switch k := res.Certificate.PublicKey.(type) {
			case *ecdsa.PublicKey:
				n := len(res.Signature) / 2
				raw := len(res.Signature)%2 == 0 && ecdsa.Verify(k, digest, new(big.Int).SetBytes(res.Signature[:n]), new(big.Int).SetBytes(res.Signature[n:]))
				if !ecdsa.VerifyASN1(k, digest, res.Signature) && !raw {
					t.Fatal("the signature does not verify over the digest")
				}
			case *rsa.PublicKey:
				if err := rsa.VerifyPKCS1v15(k, cryptoSHA256, digest, res.Signature); err != nil {
					t.Fatalf("signature: %v", err)
				}
			}

			bad := st
			bad.Digest = randomDigest(t)
			if _, err := second.Resume(bad); err == nil {
				t.Error("a state whose digest does not give its code was resumed")
			}
			other := FaceETSI
			if face == FaceETSI {
				other = FaceMID
			}
			if _, err := newTestClient(t, base, other, nil).Resume(st); err == nil {
				t.Error("a state was resumed through the other face")
			}
		})
	}
}
