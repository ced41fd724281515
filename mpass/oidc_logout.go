package mpass

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	zcrypto "github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// backchannelTimeout bounds one back-channel logout delivery.
const backchannelTimeout = 5 * time.Second

// backchannelLogout tells every OpenID Connect client of an ended session
// that registered a back-channel logout URI (OpenID Connect Back-Channel
// Logout 1.0): a signed logout token (iss, aud, sub, iat, exp, jti, the
// logout event) POSTed to it, in the background; a client that does not
// answer 200 within backchannelTimeout is recorded in the audit log.
func (f *oidcFace) backchannelLogout(ss *ssoSession) {
	for _, sp := range ss.SPs {
		id, ok := strings.CutPrefix(sp, oidcSPPrefix)
		if !ok {
			continue
		}
		f.s.bgWG.Add(1)
		go func() {
			defer f.s.bgWG.Done()
			ctx, cancel := context.WithTimeout(f.s.bg, backchannelTimeout)
			defer cancel()
			cl, err := f.s.sps.Client(ctx, id)
			if err != nil || cl.BackchannelLogoutURI == "" {
				return
			}
			if err := f.sendLogoutToken(ctx, cl, ss); err != nil {
				f.s.cfg.Log.Warn("mpass: back-channel logout", "client", id, "err", err)
				f.s.audit(context.Background(), auditEvent("mpass.logout-undelivered", ss.Identity.IDNP, sp,
					map[string]string{"session": ss.Index, "error": err.Error()}))
			}
		}()
	}
}

var errBackchannel = errors.New("mpass: the client did not accept the logout token")

func (f *oidcFace) sendLogoutToken(ctx context.Context, cl *OIDCClient, ss *ssoSession) error {
	now := f.s.cfg.Now()
	claims := oidc.NewLogoutTokenClaims(f.issuer, f.subject(cl, ss.Identity.IDNP), oidc.Audience{cl.ID},
		now.Add(2*time.Minute), newID(), "", 0)
	signer, err := op.SignerFromKey(f.key)
	if err != nil {
		return err
	}
	token, err := zcrypto.Sign(claims, signer)
	if err != nil {
		return fmt.Errorf("mpass: signing the logout token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cl.BackchannelLogoutURI,
		strings.NewReader(url.Values{"logout_token": {token}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.s.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: %v", errBackchannel, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%w: %s answered %s", errBackchannel, hostOf(cl.BackchannelLogoutURI), resp.Status)
	}
	return nil
}
