package mpay

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	mpayclient "github.com/semnat/semnat/mpay/client"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Where MPay publishes the WSDL (and its XSD) SOAP SPs implement.
const (
	PathWSDL = "/mpay/soap/IServiceProvider.wsdl"
	PathXSD  = "/mpay/soap/IServiceProvider.xsd"
)

// spCaller is one face of the SP protocol, MPay's side.
type spCaller interface {
	GetOrderDetails(ctx context.Context, endpoint string, spCert *x509.Certificate, q mpayclient.OrderDetailsQuery) (*mpayclient.OrderDetails, *mpayclient.Exchange, error)
	ConfirmOrderPayment(ctx context.Context, endpoint string, spCert *x509.Certificate, p mpayclient.PaymentConfirmation) (*mpayclient.Exchange, error)
}

// callerFor is the face sp speaks: SOAP with WS-Security, or REST/JSON
// with detached JWS. The SOAP caller's requests are signed by MPay's key
// (RSA), not the message key; its answers checked against sp's registered
// certificate.
func (s *Service) callerFor(sp *SP) spCaller {
	if sp.Face == FaceSOAP {
		return &mpayclient.SOAPCaller{Signer: s.soapSigner, HTTP: s.caller.HTTP, Now: s.caller.Now}
	}
	return s.caller
}

// checkSOAPCert refuses a SOAP SP's certificate whose key cannot sign
// WS-Security answers as MPay checks them (RSA-SHA256).
func checkSOAPCert(c *x509.Certificate) error {
	if c == nil {
		return fmt.Errorf("%w: the certificate its answers are signed with is required", ErrBadService)
	}
	if _, ok := c.PublicKey.(*rsa.PublicKey); !ok {
		return fmt.Errorf("%w: a SOAP service signs its answers with WS-Security RSA-SHA256: give an RSA certificate, not %s", ErrBadService, c.PublicKeyAlgorithm)
	}
	return nil
}

// mountSOAP publishes the WSDL and XSD of IServiceProvider.
func mountSOAP(g *echo.Group) {
	g.GET(PathWSDL, func(c echo.Context) error { return c.Blob(http.StatusOK, "text/xml; charset=utf-8", mpayclient.WSDL) })
	g.GET(PathXSD, func(c echo.Context) error { return c.Blob(http.StatusOK, "text/xml; charset=utf-8", mpayclient.XSD) })
}
