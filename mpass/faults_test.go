package mpass

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/semnat/semnat/mobileid"
)

// TestFaults: each fault-injection switch produces what it names, checked
// by reading our own Response, and the relying service (crewjam's, a
// conformant one) refuses each; with the switches off again it accepts.
func TestFaults(t *testing.T) {
	e := newEnv(t, nil)
	user := mobileid.GeneratedUser(5)
	c := newBrowserClient(t)
	e.login(c, e.newRP("first.test", true), user)
	now := time.Now()
	for _, tc := range []struct {
		fault string
		check func(t *testing.T, a ssoAnswer, prev string, doc *etree.Element)
	}{
		{FaultUnsignedResponse, func(t *testing.T, a ssoAnswer, _ string, doc *etree.Element) {
			if bytes.Contains(a.raw, []byte("Signature")) || a.resp.Assertion == nil {
				t.Errorf("a signature is left:\n%s", a.raw)
			}
		}},
		{FaultWrongCertificate, func(t *testing.T, a ssoAnswer, _ string, doc *etree.Element) {
			certs := doc.FindElements("//X509Certificate")
			if len(certs) == 0 {
				t.Fatal("not signed")
			}
			for _, el := range certs {
				if el.Text() == base64.StdEncoding.EncodeToString(e.cert.Raw) {
					t.Errorf("signed with the published certificate")
				}
			}
		}},
		{FaultExpired, func(t *testing.T, a ssoAnswer, _ string, _ *etree.Element) {
			sc := a.resp.Assertion.Subject.SubjectConfirmations[0].SubjectConfirmationData
			if now.Sub(a.resp.IssueInstant) < 50*time.Minute || !a.resp.Assertion.Conditions.NotOnOrAfter.Before(now) || !sc.NotOnOrAfter.Before(now) {
				t.Errorf("not expired: issued %v, conditions until %v, confirmation until %v", a.resp.IssueInstant, a.resp.Assertion.Conditions.NotOnOrAfter, sc.NotOnOrAfter)
			}
		}},
		{FaultFuture, func(t *testing.T, a ssoAnswer, _ string, _ *etree.Element) {
			if a.resp.IssueInstant.Sub(now) < 50*time.Minute || !a.resp.Assertion.Conditions.NotBefore.After(now) {
				t.Errorf("not in the future: issued %v, conditions from %v", a.resp.IssueInstant, a.resp.Assertion.Conditions.NotBefore)
			}
		}},
		{FaultNoDestination, func(t *testing.T, a ssoAnswer, _ string, doc *etree.Element) {
			if doc.SelectAttr("Destination") != nil || a.action == "" || a.resp.Signature == nil {
				t.Errorf("Destination %q, posted to %q", a.resp.Destination, a.action)
			}
		}},
		{FaultNoInResponseTo, func(t *testing.T, a ssoAnswer, _ string, _ *etree.Element) {
			if a.resp.InResponseTo != "" || a.resp.Assertion.Subject.SubjectConfirmations[0].SubjectConfirmationData.InResponseTo != "" {
				t.Errorf("InResponseTo %q", a.resp.InResponseTo)
			}
		}},
		{FaultStaleInResponseTo, func(t *testing.T, a ssoAnswer, prev string, _ *etree.Element) {
			if a.resp.InResponseTo != prev || prev == "" || prev == a.requestID {
				t.Errorf("InResponseTo %q, the previous request %q, this one %q", a.resp.InResponseTo, prev, a.requestID)
			}
		}},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			rp := e.newRPWith(tc.fault+".test", &SPOptions{Faults: []string{tc.fault}}, nil)
			prev := e.answerOf(c, rp).requestID // the relying service's previous request
			a := e.answerOf(c, rp)
			doc := etree.NewDocument()
			if err := doc.ReadFromBytes(a.raw); err != nil {
				t.Fatal(err)
			}
			tc.check(t, a, prev, doc.Root())
			if _, err := a.accept(rp); err == nil {
				t.Errorf("the relying service accepted a Response with %s", tc.fault)
			} else {
				t.Logf("%s refused: %v", tc.fault, err)
			}
			// Switched off: accepted.
			if err := e.srv.Registry().SetFaults(context.Background(), rp.mw.ServiceProvider.Metadata().EntityID, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := e.answerOf(c, rp).accept(rp); err != nil {
				t.Errorf("without the fault: %v", err)
			}
		})
	}
	if err := e.srv.Registry().SetFaults(context.Background(), "https://nobody.test", []string{FaultExpired}); !strings.Contains(errString(err), "no relying service") {
		t.Errorf("unknown relying service: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
