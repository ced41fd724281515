package mobileid

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

func (c *Client) apInfo(tid string) etsiAPInfo {
	return etsiAPInfo{APID: c.opts.APID, APPWD: c.opts.APPassword, APTransID: tid,
		Instant: time.Now().Format("2006-01-02T15:04:05.000Z07:00")}
}

// etsiCall posts one ETSI message and returns the response object under
// respKey, or the fault as an *Error.
func (c *Client) etsiCall(ctx context.Context, op string, body any, respKey string) (*etsiResp, error) {
	var out map[string]json.RawMessage
	st, raw, err := c.do(ctx, "POST", c.base+"/"+op, body, &out)
	if err != nil {
		return nil, err
	}
	if st != 200 {
		var f struct {
			Fault *struct {
				Code struct {
					SubCode *etsiSubCode `json:"SubCode"`
				} `json:"Code"`
				Reason string `json:"Reason"`
				Detail any    `json:"Detail"`
			} `json:"Fault"`
		}
		if json.Unmarshal(raw, &f) != nil || f.Fault == nil {
			return nil, &Error{Face: FaceETSI, Code: fmt.Sprintf("HTTP %d", st), Err: ErrService}
		}
		e := &Error{Face: FaceETSI, Code: f.Fault.Reason, Err: ErrService}
		if d, ok := f.Fault.Detail.(string); ok {
			e.Detail = d
		}
		var code StatusCode
		if sc := f.Fault.Code.SubCode; sc != nil {
			n, _ := strconv.Atoi(strings.TrimLeft(sc.Value[strings.LastIndex(sc.Value, ":")+1:], "_"))
			code = StatusCode(n)
			if sc.SubCode != nil {
				e.SubCode = strings.TrimLeft(sc.SubCode.Value[strings.LastIndex(sc.SubCode.Value, ":")+1:], "_")
			}
		}
		if code == 0 { // key on the Reason when the sub-code is missing
			for k, v := range statusNames {
				if v == f.Fault.Reason {
					code = k
				}
			}
		}
		if code != 0 {
			e.Code = strconv.Itoa(int(code))
			e.Err = etsiSentinel(code, e.SubCode)
		}
		return nil, e
	}
	var resp etsiResp
	if r, ok := out[respKey]; !ok || json.Unmarshal(r, &resp) != nil {
		return nil, &Error{Face: FaceETSI, Code: "HTTP 200", Detail: "no " + respKey, Err: ErrProtocol}
	}
	return &resp, nil
}

func (c *Client) etsiCertificate(ctx context.Context, msisdn string) (*x509.Certificate, []*x509.Certificate, error) {
	body := map[string]any{"MSS_ProfileReq": map[string]any{"MajorVersion": "1", "MinorVersion": "1",
		"AP_Info": c.apInfo("P" + randomHex(8)), "MobileUser": etsiMobileUser{MSISDN: normalizeMSISDN(msisdn)}, "Params": "certs"}}
	resp, err := c.etsiCall(ctx, "profile", body, "MSS_ProfileResp")
	if err != nil {
		return nil, nil, err
	}
	var detail struct {
		ProfileQueryExtension struct {
			Sscds struct {
				Sim struct {
					MobileUserCertificate []struct {
						State            string   `json:"State"`
						SignatureProfile string   `json:"SignatureProfile"`
						X509Certificate  []string `json:"X509Certificate"`
					} `json:"MobileUserCertificate"`
				} `json:"Sim"`
			} `json:"Sscds"`
		} `json:"ProfileQueryExtension"`
	}
	b, _ := json.Marshal(resp.Status.StatusDetail)
	json.Unmarshal(b, &detail)
	for _, mc := range detail.ProfileQueryExtension.Sscds.Sim.MobileUserCertificate {
		if strings.Contains(strings.ToLower(mc.SignatureProfile), "auth") || len(mc.X509Certificate) == 0 {
			continue
		}
		var certs []*x509.Certificate
		for _, s := range mc.X509Certificate {
			der, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, nil, &Error{Face: FaceETSI, Code: "100", Detail: "certificate is not base64", Err: ErrProtocol}
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, nil, &Error{Face: FaceETSI, Code: "100", Detail: err.Error(), Err: ErrProtocol}
			}
			certs = append(certs, cert)
		}
		chain, err := c.checkCertificate(certs[0], certs[1:], true)
		if err != nil {
			return nil, nil, err
		}
		return certs[0], chain, nil
	}
	return nil, nil, &Error{Face: FaceETSI, Code: "100", Detail: "profile lists no signing certificate", Err: ErrNoCertificate}
}

var etsiMime = map[int]string{32: "application/x-sha256", 48: "application/x-sha384", 64: "application/x-sha512"}

func (c *Client) etsiStart(ctx context.Context, p *Pending, req SignRequest) error {
	p.apTID = "S" + randomHex(12)
	profile := ProfileSign
	if p.auth {
		profile = ProfileAuth
	}
	text, _ := FitDisplayText(req.DisplayText)
	sr := map[string]any{"MajorVersion": "1", "MinorVersion": "1", "MessagingMode": "asynchClientServer",
		"AP_Info": c.apInfo(p.apTID), "MSSP_Info": map[string]any{"MSSP_ID": map[string]string{"URI": DefaultMSSPID}},
		"MobileUser":       etsiMobileUser{MSISDN: p.msisdn},
		"DataToBeSigned":   etsiData{Data: base64.StdEncoding.EncodeToString(p.digest), MimeType: etsiMime[len(p.digest)], Encoding: "base64"},
		"SignatureProfile": profile, "MSS_Format": c.opts.Format}
	if text != "" {
		sr["DataToBeDisplayed"] = etsiData{Data: text, MimeType: "text/plain", Encoding: "UTF-8"}
	}
	resp, err := c.etsiCall(ctx, "sign", map[string]any{"MSS_SignatureReq": sr}, "MSS_SignatureResp")
	if err != nil {
		return err
	}
	if resp.Status.StatusCode.Value != "100" || resp.MSSPTransID == "" {
		return &Error{Face: FaceETSI, Code: resp.Status.StatusCode.Value, Detail: "expected 100 REQUEST_OK with an MSSP_TransID", Err: ErrProtocol}
	}
	if resp.APInfo != nil && resp.APInfo.APTransID != "" && resp.APInfo.APTransID != p.apTID {
		return &Error{Face: FaceETSI, Code: "100", Detail: "the MSSP echoed another AP_TransID", Err: ErrProtocol}
	}
	if resp.MobileUser != nil && resp.MobileUser.MSISDN != "" && normalizeMSISDN(resp.MobileUser.MSISDN) != p.msisdn {
		return &Error{Face: FaceETSI, Code: "100", Detail: "the MSSP echoed another MSISDN", Err: ErrProtocol}
	}
	p.id = resp.MSSPTransID
	return nil
}

func (c *Client) etsiWait(ctx context.Context, p *Pending) (*SignResult, error) {
	interval := c.opts.PollInterval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	for {
		if err := sleep(ctx, interval); err != nil {
			return nil, err
		}
		body := map[string]any{"MSS_StatusReq": map[string]any{"MajorVersion": "1", "MinorVersion": "1",
			"AP_Info": c.apInfo(p.apTID), "MSSP_TransID": p.id, "MobileUser": etsiMobileUser{MSISDN: p.msisdn}}}
		resp, err := c.etsiCall(ctx, "status", body, "MSS_StatusResp")
		if err != nil {
			return nil, err
		}
		code, _ := strconv.Atoi(resp.Status.StatusCode.Value)
		switch StatusCode(code) {
		case OutstandingTransaction:
			continue
		case Signature, ValidSignature:
			return c.etsiVerify(p, resp)
		}
		var detail string
		if s, ok := resp.Status.StatusDetail.(string); ok {
			detail = s
		}
		return nil, &Error{Face: FaceETSI, Code: resp.Status.StatusCode.Value, Detail: detail, Err: etsiSentinel(StatusCode(code), "")}
	}
}

func (c *Client) etsiVerify(p *Pending, resp *etsiResp) (*SignResult, error) {
	fail := func(detail string, err error) (*SignResult, error) {
		return nil, &Error{Face: FaceETSI, Code: resp.Status.StatusCode.Value, Detail: detail, Err: err}
	}
	if resp.MobileUser != nil && resp.MobileUser.MSISDN != "" && normalizeMSISDN(resp.MobileUser.MSISDN) != p.msisdn {
		return fail("answer for another MSISDN", ErrProtocol)
	}
	ms := resp.MSSSignature
	if ms == nil {
		return fail("no MSS_Signature", ErrProtocol)
	}
	res := &SignResult{Face: FaceETSI, Transaction: p.id, Hash: p.hash, Digest: p.digest}
	if ms.PKCS1 != nil {
		sig, err1 := base64.StdEncoding.DecodeString(ms.PKCS1.SignatureValue)
		der, err2 := base64.StdEncoding.DecodeString(ms.PKCS1.X509Certificate)
		if err1 != nil || err2 != nil {
			return fail("PKCS1 fields are not base64", ErrProtocol)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return fail("X509Certificate: "+err.Error(), ErrProtocol)
		}
		if res.Chain, err = c.checkCertificate(cert, nil, !p.auth); err != nil {
			return nil, err
		}
		if res.Signature, err = verifyDigestSignature(cert, p.hash, p.digest, sig); err != nil {
			return fail("signature does not verify over the digest we sent", ErrInvalidSignature)
		}
		res.Certificate = cert
		return res, nil
	}
	der, err := base64.StdEncoding.DecodeString(ms.Base64Signature)
	if err != nil || len(der) == 0 {
		return fail("no usable Base64Signature", ErrProtocol)
	}
	cms, err := parseCMS(der)
	if err != nil {
		return fail(err.Error(), ErrProtocol)
	}
	if cms.hash != p.hash || !bytes.Equal(cms.messageDigest, p.digest) {
		return fail("the CMS messageDigest is not the digest we sent", ErrInvalidSignature)
	}
	h := cms.hash.New()
	h.Write(cms.signedAttrs)
	if _, err := verifyDigestSignature(cms.signer, cms.hash, h.Sum(nil), cms.signature); err != nil {
		return fail("CMS signature does not verify", ErrInvalidSignature)
	}
	var extra []*x509.Certificate
	for _, x := range cms.certs {
		if x != cms.signer {
			extra = append(extra, x)
		}
	}
	if res.Chain, err = c.checkCertificate(cms.signer, extra, !p.auth); err != nil {
		return nil, err
	}
	res.CMS, res.Certificate = der, cms.signer
	return res, nil
}
