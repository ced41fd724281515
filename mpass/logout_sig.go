package mpass

import (
	"context"
	"net/http"
	"strings"

	"github.com/crewjam/saml"
)

// The signature algorithm of single logout messages (LogoutRequest,
// LogoutResponse). crewjam runs a front-channel logout over several
// requests (one relying service after the other through the browser) with
// one identity provider: every message of it is signed with that
// provider's key, and its state cookie too, which the later requests of
// the logout must verify with the same key. So the algorithm is chosen per
// logout, not per message: a logout whose SAML relying services (the one
// that asked for it, and those it is carried to) are all registered for
// ecdsa-sha256 is signed with MPass's ECDSA key, and the cookie
// cookieLogoutSig tells the logout's later requests; any other is signed
// with the RSA key, as before, which every relying service can check from
// the metadata (a service registered for ecdsa-sha256 finds the RSA
// certificate there too; one that trusts only the ECDSA certificate then
// refuses the messages of a logout shared with RSA services, which would
// need crewjam to sign each message with a key of its own).
const cookieLogoutSig = "mpass_logout_sig"

// logoutIdP is the identity provider that signs a logout reaching the
// relying services sps (OpenID Connect clients among them are skipped:
// they get no SAML message), and sets or clears cookieLogoutSig for the
// logout's later requests.
func (s *Service) logoutIdP(w http.ResponseWriter, r *http.Request, sps []string) *saml.IdentityProvider {
	if s.cfg.ECDSAKey != nil && s.allECDSA(r.Context(), sps) {
		http.SetCookie(w, s.logoutSigCookie(r, SigECDSASHA256, int(saml.LogoutStateLifetime.Seconds())))
		idp, _ := s.ecdsaSigner(&SPOptions{SignatureAlgorithm: SigECDSASHA256}, s.idp)
		return idp
	}
	if _, err := r.Cookie(cookieLogoutSig); err == nil {
		http.SetCookie(w, s.logoutSigCookie(r, "", -1))
	}
	return s.idp
}

// continuingIdP is the identity provider of a logout under way (a
// relying service's LogoutResponse): the one its first request chose.
// A forged cookie can only make the logout's state fail its check.
func (s *Service) continuingIdP(r *http.Request) *saml.IdentityProvider {
	if ck, err := r.Cookie(cookieLogoutSig); err == nil && ck.Value == SigECDSASHA256 && s.cfg.ECDSAKey != nil {
		idp, _ := s.ecdsaSigner(&SPOptions{SignatureAlgorithm: SigECDSASHA256}, s.idp)
		return idp
	}
	return s.idp
}

// allECDSA: sps has a SAML relying service, and every one is registered
// for ecdsa-sha256.
func (s *Service) allECDSA(ctx context.Context, sps []string) bool {
	n := 0
	for _, id := range sps {
		if strings.HasPrefix(id, oidcSPPrefix) {
			continue
		}
		sp, _, err := s.sps.Get(ctx, id)
		if err != nil || sp.Options.SignatureAlgorithm != SigECDSASHA256 {
			return false
		}
		n++
	}
	return n > 0
}

// logoutSigCookie is cookieLogoutSig as crewjam sets its logout state
// cookie: SameSite=None over https, since a relying service may answer
// with a cross-site POST.
func (s *Service) logoutSigCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	secure := s.base.Scheme == "https" || r.TLS != nil
	sameSite := http.SameSiteLaxMode
	if secure {
		sameSite = http.SameSiteNoneMode
	}
	return &http.Cookie{Name: cookieLogoutSig, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true, Secure: secure, SameSite: sameSite}
}
