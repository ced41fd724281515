package mobileid

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestVerificationCodeVectors(t *testing.T) {
	h20, _ := hex.DecodeString("2f665f6a6999e0ef0752e00ec9f453adf59d8cb6")
	s256 := sha256.Sum256([]byte("HACKERMAN_SHA256"))
	s384 := sha512.Sum384([]byte("HACKERMAN_SHA384"))
	s512 := sha512.Sum512([]byte("HACKERMAN_SHA512"))
	for _, c := range []struct {
		in   []byte
		want string
	}{{h20, "1462"}, {s256[:], "6008"}, {s384[:], "7230"}, {s512[:], "3843"}, {[]byte{1, 2, 3, 4}, "0000"}, {nil, "0000"}} {
		if got := VerificationCode(c.in); got != c.want {
			t.Errorf("VerificationCode(%x) = %s, want %s", c.in, got, c.want)
		}
	}
}

var scriptedWire = []struct {
	n    string
	mid  Result
	etsi string
}{
	{"001", ResultOK, "500"}, {"002", ResultOK, "500"}, {"003", ResultOK, "500"},
	{"010", ResultUserCancelled, "401/4011"}, {"011", ResultTimeout, "208/2082"},
	{"012", ResultPhoneAbsent, "209/2093"}, {"013", ResultDeliveryError, "209/2091"},
	{"014", ResultSIMError, "900/9003"}, {"015", ResultSignatureHashMismatch, "503"},
	{"020", ResultSIMError, "402/4021"}, {"021", ResultOK, "401/4012 401/4012 500"},
	{"022", ResultSIMError, "403/4031"}, {"030", ResultNotMIDClient, "105/1053"},
	{"031", ResultNotMIDClient, "404/4041"}, {"032", ResultNotMIDClient, "422"},
	{"033", ResultOK, "501"}, {"040", ResultDeliveryError, "406"}, {"041", ResultUserCancelled, "401/4011"},
}

func idnpOf(msisdn string) string {
	for _, u := range ScriptedUsers() {
		if u.MSISDN == msisdn {
			return u.IDNP
		}
	}
	return ""
}

// TestScriptedUsersWire drives every scripted user over both faces at the
// wire level and checks the exact codes.
func TestScriptedUsersWire(t *testing.T) {
	_, base := sharedSim(t)
	t.Run("mid", func(t *testing.T) {
		for _, c := range scriptedWire {
			t.Run(c.n, func(t *testing.T) {
				t.Parallel()
				msisdn := "+37300000" + c.n
				code, out := postJSON(t, base+"/mid-api/signature", midBodyFor(msisdn, idnpOf(msisdn), randomDigest(t)))
				id, _ := out["sessionID"].(string)
				if code != 200 || id == "" {
					t.Fatalf("start: %d %v", code, out)
				}
				for {
					code, out = getJSON(t, base+"/mid-api/signature/session/"+id+"?timeoutMs=120000")
					if code != 200 {
						t.Fatalf("status: %d %v", code, out)
					}
					if out["state"] == "COMPLETE" {
						break
					}
					if out["state"] != "RUNNING" {
						t.Fatalf("state %v", out["state"])
					}
				}
				if out["result"] != string(c.mid) {
					t.Fatalf("result %v, want %s", out["result"], c.mid)
				}
				_, hasSig := out["signature"]
				if hasSig != (c.mid == ResultOK) {
					t.Fatalf("signature present = %v for %s", hasSig, c.mid)
				}
				if _, hasCert := out["cert"]; hasCert {
					t.Fatal("a signature session must not return a certificate")
				}
			})
		}
	})
	t.Run("etsi", func(t *testing.T) {
		for _, c := range scriptedWire {
			t.Run(c.n, func(t *testing.T) {
				t.Parallel()
				msisdn := "+37300000" + c.n
				var got []string
				for range strings.Fields(c.etsi) {
					got = append(got, etsiRun(t, base, msisdn))
				}
				if strings.Join(got, " ") != c.etsi {
					t.Fatalf("codes %q, want %q", got, c.etsi)
				}
			})
		}
	})
}

// etsiRun signs once asynchronously and returns the final code.
func etsiRun(t *testing.T, base, msisdn string) string {
	code, out := postJSON(t, base+"/rest/service/sign", etsiSignBody(msisdn, randomDigest(t), "asynchClientServer", map[string]any{"TimeOut": "120"}))
	if code != 200 {
		return faultCode(out)
	}
	if v := dig(out, "MSS_SignatureResp", "Status", "StatusCode", "Value"); code != 200 || v != "100" {
		t.Fatalf("sign: %d %v", code, out)
	}
	id := dig(out, "MSS_SignatureResp", "MSSP_TransID").(string)
	for {
		time.Sleep(5 * time.Millisecond)
		code, out = postJSON(t, base+"/rest/service/status", etsiStatusBody(id))
		if code != 200 {
			return faultCode(out)
		}
		v, _ := dig(out, "MSS_StatusResp", "Status", "StatusCode", "Value").(string)
		if v != "504" {
			if v == "500" || v == "501" || v == "503" {
				if dig(out, "MSS_StatusResp", "MSS_Signature", "PKCS1", "SignatureValue") == nil {
					t.Fatalf("%s without a signature: %v", v, out)
				}
			}
			return v
		}
	}
}

// TestScriptedUsersClient checks the client's typed errors for every scripted user.
func TestScriptedUsersClient(t *testing.T) {
	_, base := sharedSim(t)
	want := map[string]error{"001": nil, "002": nil, "003": nil, "010": ErrUserCancelled, "011": ErrTimeout,
		"012": ErrPhoneAbsent, "013": ErrDelivery, "014": ErrSIM, "015": ErrInvalidSignature, "020": ErrPINBlocked,
		"022": ErrCardBlocked, "030": ErrNotClient, "031": ErrNoKey, "032": ErrNoCertificate, "033": ErrCertificateRevoked,
		"040": ErrBusy, "041": ErrUserCancelled}
	midWant := map[string]error{"020": ErrSIM, "022": ErrSIM, "031": ErrNoKey, "032": ErrNoKey, "033": nil, "040": ErrDelivery, "015": ErrInvalidSignature}
	for _, face := range []Face{FaceMID, FaceETSI} {
		t.Run(string(face), func(t *testing.T) {
			c := newTestClient(t, base, face, nil)
			for n, w := range want {
				if face == FaceMID {
					if mw, ok := midWant[n]; ok {
						w = mw
					}
				}
				t.Run(n, func(t *testing.T) {
					t.Parallel()
					msisdn := "+37300000" + n
					digest := randomDigest(t)
					p, err := c.Start(t.Context(), SignRequest{MSISDN: msisdn, IDNP: idnpOf(msisdn), Digest: digest, Hash: cryptoSHA256, DisplayText: "Test"})
					var res *SignResult
					if err == nil {
						if p.VerificationCode() != VerificationCode(digest) {
							t.Fatal("verification code")
						}
						res, err = p.Wait(t.Context())
					}
					if !errors.Is(err, w) || (w == nil) != (err == nil) {
						t.Fatalf("err = %v, want %v", err, w)
					}
					if err != nil {
						var e *Error
						if !errors.As(err, &e) || e.Face != face || e.Code == "" {
							t.Fatalf("not a typed *Error: %#v", err)
						}
						return
					}
					if res.Certificate == nil || len(res.Signature) == 0 || len(res.Chain) != 1 {
						t.Fatalf("result %+v", res)
					}
					if _, err := verifyDigestSignature(res.Certificate, res.Hash, digest, res.Signature); err != nil || res.Signature[0] != 0x30 && n == "002" {
						t.Fatal("signature not over our digest / not DER")
					}
				})
			}
		})
	}
	t.Run("etsi-wrong-pin", func(t *testing.T) {
		c := newTestClient(t, base, FaceETSI, nil)
		var got []string
		for range 3 {
			_, err := c.Sign(t.Context(), SignRequest{MSISDN: "+37300000021", Digest: randomDigest(t), Hash: cryptoSHA256})
			got = append(got, fmt.Sprint(err == nil || errors.Is(err, ErrWrongPIN)))
		}
		if strings.Join(got, ",") != "true,true,true" {
			t.Fatalf("wrong-pin cycle: %v", got)
		}
	})
}
