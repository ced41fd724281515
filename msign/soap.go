package msign

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"text/template"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/semnat/semnat/msign/client"
	"github.com/semnat/semnat/problem"
)

// The SOAP 1.1 face of MSign at /MSign.svc, with the semantics of the REST
// API and the contract of msign.gov.md's IMSign (namespace and actions
// https://msign.gov.md/IMSign/..., WSDL at ?wsdl), so that a client
// generated from that WSDL (WCF, zeep) works unchanged.

//go:embed msign.wsdl
var wsdlText string

var wsdlTemplate = template.Must(template.New("wsdl").Parse(wsdlText))

const (
	soapEnvNS = "http://schemas.xmlsoap.org/soap/envelope/"
	msignNS   = "https://msign.gov.md"
	// soapPath is where the SOAP face is served.
	soapPath = "/MSign.svc"
)

// serveWSDL answers GET /MSign.svc?wsdl (or ?singleWsdl) with the WSDL,
// whose address is this service's.
func (s *Service) serveWSDL(c echo.Context) error {
	q := c.Request().URL.Query()
	if !q.Has("wsdl") && !q.Has("singleWsdl") {
		return problem.New(http.StatusBadRequest, "soap-get", "SOAP endpoint", "POST SOAP 1.1 envelopes here; the WSDL is at ?wsdl")
	}
	var b bytes.Buffer
	if err := wsdlTemplate.Execute(&b, s.origin(c)+soapPath); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "text/xml; charset=utf-8", b.Bytes())
}

type soapSignContent struct {
	Content            string `xml:"https://msign.gov.md Content"`
	CorrelationID      string `xml:"https://msign.gov.md CorrelationID"`
	MultipleSignatures bool   `xml:"https://msign.gov.md MultipleSignatures"`
	Name               string `xml:"https://msign.gov.md Name"`
}

type soapExpectedSigner struct {
	DelegatedRoleID int    `xml:"https://msign.gov.md DelegatedRoleID"`
	DelegatorID     string `xml:"https://msign.gov.md DelegatorID"`
	DelegatorType   string `xml:"https://msign.gov.md DelegatorType"`
	ID              string `xml:"https://msign.gov.md ID"`
}

type soapSignRequest struct {
	ContentDescription string `xml:"https://msign.gov.md ContentDescription"`
	ContentType        string `xml:"https://msign.gov.md ContentType"`
	Contents           struct {
		Items []soapSignContent `xml:"https://msign.gov.md SignContent"`
	} `xml:"https://msign.gov.md Contents"`
	ExpectedSigner          *soapExpectedSigner `xml:"https://msign.gov.md ExpectedSigner"`
	ShortContentDescription string              `xml:"https://msign.gov.md ShortContentDescription"`
	SignatureReason         string              `xml:"https://msign.gov.md SignatureReason"`
}

type soapEnvelope struct {
	XMLName xml.Name `xml:"http://schemas.xmlsoap.org/soap/envelope/ Envelope"`
	Body    struct {
		Post *struct {
			Request *soapSignRequest `xml:"https://msign.gov.md request"`
		} `xml:"https://msign.gov.md PostSignRequest"`
		Get *struct {
			RequestID string `xml:"https://msign.gov.md requestID"`
			Language  string `xml:"https://msign.gov.md language"`
		} `xml:"https://msign.gov.md GetSignResponse"`
		Verify *struct {
			Request *soapVerificationRequest `xml:"https://msign.gov.md request"`
		} `xml:"https://msign.gov.md VerifySignatures"`
	} `xml:"http://schemas.xmlsoap.org/soap/envelope/ Body"`
}

type soapVerificationRequest struct {
	Contents struct {
		Items []struct {
			Content       string `xml:"https://msign.gov.md Content"`
			CorrelationID string `xml:"https://msign.gov.md CorrelationID"`
			Signature     string `xml:"https://msign.gov.md Signature"`
		} `xml:"https://msign.gov.md VerificationContent"`
	} `xml:"https://msign.gov.md Contents"`
	Language          string `xml:"https://msign.gov.md Language"`
	ReportPdf         bool   `xml:"https://msign.gov.md ReportPdf"`
	SignedContentType string `xml:"https://msign.gov.md SignedContentType"`
}

type soapVerificationCertificate struct {
	Certificate    string `xml:"Certificate,omitempty"`
	SignatureValid bool   `xml:"SignatureValid"`
	SignedAt       string `xml:"SignedAt,omitempty"`
	Subject        string `xml:"Subject"`
}

type soapVerificationResult struct {
	Certificates  []soapVerificationCertificate `xml:"Certificates>VerificationCertificate"`
	CorrelationID string                        `xml:"CorrelationID"`
	Message       string                        `xml:"Message"`
	ReportPdf     string                        `xml:"ReportPdf,omitempty"` // base64
	Valid         bool                          `xml:"SignaturesValid"`
}

type soapVerifyOut struct {
	XMLName xml.Name `xml:"https://msign.gov.md VerifySignaturesResponse"`
	Result  struct {
		Results []soapVerificationResult `xml:"Results>VerificationResult"`
	} `xml:"VerifySignaturesResult"`
}

// The answers: elements in the schema's (alphabetical) order, in the
// service's namespace.
type soapPostOut struct {
	XMLName xml.Name `xml:"https://msign.gov.md PostSignRequestResponse"`
	Result  string   `xml:"PostSignRequestResult"`
}

type soapSignResult struct {
	Certificate   string `xml:"Certificate"`
	CorrelationID string `xml:"CorrelationID"`
	Signature     string `xml:"Signature"`
}

type soapGetOut struct {
	XMLName xml.Name `xml:"https://msign.gov.md GetSignResponseResponse"`
	Result  struct {
		Message string           `xml:"Message"`
		Results []soapSignResult `xml:"Results>SignResult"`
		Status  string           `xml:"Status"`
	} `xml:"GetSignResponseResult"`
}

// soap answers POST /MSign.svc.
func (s *Service) soap(c echo.Context) error {
	// Who asks first (headers and TLS only): a stranger's body is not read.
	sys, err := s.authenticate(c)
	if err != nil {
		return s.soapFault(c, err)
	}
	var env soapEnvelope
	// The body comes whole first (a large one into the spool), then a
	// large one is decoded holding a worker place.
	body, err := s.readSystemBody(c)
	if err != nil {
		return s.soapFault(c, err)
	}
	defer body.close()
	ctx := c.Request().Context()
	if body.large() {
		var release func()
		if ctx, release, err = s.acquireCtx(ctx); err != nil {
			return s.soapFault(c, err)
		}
		defer release()
	}
	if err := xml.NewDecoder(body).Decode(&env); err != nil {
		return s.soapFault(c, errInvalid("the body is not a SOAP 1.1 envelope: "+err.Error()))
	}
	switch {
	case env.Body.Post != nil:
		req, err := env.Body.Post.Request.signRequest()
		if err != nil {
			return s.soapFault(c, err)
		}
		id, err := s.newSystemRequest(ctx, sys, req)
		if err != nil {
			return s.soapFault(c, err)
		}
		return s.soapAnswer(c, http.StatusOK, soapPostOut{Result: id})
	case env.Body.Get != nil:
		resp, err := s.signResponse(ctx, sys, env.Body.Get.RequestID, env.Body.Get.Language)
		if err != nil {
			return s.soapFault(c, err)
		}
		var out soapGetOut
		out.Result.Message, out.Result.Status = resp.Message, string(resp.Status)
		for _, r := range resp.Results {
			out.Result.Results = append(out.Result.Results, soapSignResult{Certificate: base64.StdEncoding.EncodeToString(r.Certificate),
				CorrelationID: r.CorrelationID, Signature: base64.StdEncoding.EncodeToString(r.Signature)})
		}
		return s.soapAnswer(c, http.StatusOK, out)
	case env.Body.Verify != nil && env.Body.Verify.Request != nil:
		vr := env.Body.Verify.Request
		req := &client.VerificationRequest{SignedContentType: client.ContentType(vr.SignedContentType), Language: vr.Language, ReportPdf: vr.ReportPdf}
		for i, it := range vr.Contents.Items {
			content, err1 := decodeBase64(it.Content)
			sig, err2 := decodeBase64(it.Signature)
			if err1 != nil || err2 != nil {
				return s.soapFault(c, errInvalid(fmt.Sprintf("Contents[%d]: Content and Signature are base64", i)))
			}
			req.Contents = append(req.Contents, client.VerificationContent{CorrelationID: it.CorrelationID, Content: content, Signature: sig})
		}
		resp, err := s.verifySignatures(ctx, req)
		if err != nil {
			return s.soapFault(c, err)
		}
		var out soapVerifyOut
		for _, r := range resp.Results {
			sr := soapVerificationResult{CorrelationID: r.CorrelationID, Message: r.Message, Valid: r.SignaturesValid}
			if len(r.ReportPdf) > 0 {
				sr.ReportPdf = base64.StdEncoding.EncodeToString(r.ReportPdf)
			}
			for _, vc := range r.Certificates {
				sc := soapVerificationCertificate{Certificate: base64.StdEncoding.EncodeToString(vc.Certificate), SignatureValid: vc.SignatureValid, Subject: vc.Subject}
				if vc.SignedAt != nil {
					sc.SignedAt = vc.SignedAt.UTC().Format(time.RFC3339)
				}
				sr.Certificates = append(sr.Certificates, sc)
			}
			out.Result.Results = append(out.Result.Results, sr)
		}
		return s.soapAnswer(c, http.StatusOK, out)
	}
	return s.soapFault(c, errInvalid("the body holds no operation of IMSign (PostSignRequest, GetSignResponse, VerifySignatures)"))
}

// signRequest is the SOAP request as the REST API's, contents decoded.
func (r *soapSignRequest) signRequest() (*client.SignRequest, error) {
	if r == nil {
		return nil, errInvalid("request: missing")
	}
	out := &client.SignRequest{ContentDescription: r.ContentDescription, ShortContentDescription: r.ShortContentDescription,
		SignatureReason: r.SignatureReason, ContentType: client.ContentType(r.ContentType)}
	for i, ct := range r.Contents.Items {
		b, err := decodeBase64(ct.Content)
		if err != nil {
			return nil, errInvalid(fmt.Sprintf("Contents[%d].Content: not base64", i))
		}
		out.Contents = append(out.Contents, client.SignContent{CorrelationID: ct.CorrelationID, Name: ct.Name, MultipleSignatures: ct.MultipleSignatures, Content: b})
	}
	if es := r.ExpectedSigner; es != nil {
		out.ExpectedSigner = &client.ExpectedSigner{ID: es.ID, DelegatorType: client.DelegatorType(es.DelegatorType), DelegatorID: es.DelegatorID,
			DelegatedRoleID: es.DelegatedRoleID}
	}
	return out, nil
}

// decodeBase64 reads an xs:base64Binary (line breaks allowed).
func decodeBase64(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
}

func (s *Service) soapAnswer(c echo.Context, status int, payload any) error {
	b, err := xml.Marshal(payload)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	out.WriteString(`<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="` + soapEnvNS + `"><s:Body>`)
	out.Write(b)
	out.WriteString(`</s:Body></s:Envelope>`)
	return c.Blob(status, "text/xml; charset=utf-8", out.Bytes())
}

// soapFaults names the fault of each problem type of the API.
var soapFaults = map[string]string{
	client.ProblemAuthenticationFailed: "AuthenticationFailed",
	client.ProblemAuthorizationFailed:  "AuthorizationFailed",
	client.ProblemInvalidParameter:     "InvalidParameter",
	client.ProblemRequestNotFound:      "RequestNotFound",
}

type soapFault struct {
	XMLName xml.Name `xml:"s:Fault"`
	Code    string   `xml:"faultcode"`
	String  string   `xml:"faultstring"`
	Detail  *struct {
		Inner []byte `xml:",innerxml"`
	} `xml:"detail"`
}

// soapFault answers err as a SOAP 1.1 fault (HTTP 500): MSign's faults
// carry their detail element (AuthenticationFailed, ...) with the message.
func (s *Service) soapFault(c echo.Context, err error) error {
	p, internal := problem.Of(err)
	if internal {
		s.cfg.Log.Error("SOAP request failed", "err", err)
	}
	f := soapFault{Code: "s:Server", String: p.Title}
	if p.Detail != "" {
		f.String = p.Title + ": " + p.Detail
	}
	var pe *problem.Error
	if name, ok := soapFaults[p.Type]; ok && errors.As(err, &pe) {
		var msg bytes.Buffer
		_ = xml.EscapeText(&msg, []byte(p.Detail))
		f.Code = "s:Client"
		f.Detail = &struct {
			Inner []byte `xml:",innerxml"`
		}{Inner: []byte(`<` + name + ` xmlns="` + msignNS + `"><Message>` + msg.String() + `</Message></` + name + `>`)}
	} else if p.Status >= 400 && p.Status < 500 {
		f.Code = "s:Client"
	}
	return s.soapAnswer(c, http.StatusInternalServerError, f)
}
