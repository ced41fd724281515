"""An independent SOAP client of MSign: python3-zeep builds it from our WSDL.

Usage: zeep_client.py WSDL_URL API_KEY OTHER_KEY post PDF
       zeep_client.py WSDL_URL API_KEY OTHER_KEY get REQUEST_ID   (then VerifySignatures of the result)
Prints one JSON object on stdout.
"""
import base64
import hashlib
import json
import sys

from requests import Session
from zeep import Client
from zeep.exceptions import Fault
from zeep.transports import Transport

url, key, other, mode, arg = sys.argv[1:6]


def client(api_key):
    s = Session()
    if api_key:
        s.headers["X-API-Key"] = api_key
    return Client(url, transport=Transport(session=s))


def fault(call):
    try:
        call()
    except Fault as e:
        d = e.detail
        name = d[0].tag if d is not None and len(d) else None
        return {"name": name, "message": e.message}
    return None


c = client(key)
out = {}
if mode == "post":
    doc = open(arg, "rb").read()
    rid = c.service.PostSignRequest(request={
        "ContentDescription": "Cerere de eliberare a certificatului",
        "ContentType": "Pdf",
        "Contents": {"SignContent": [{"Content": doc, "CorrelationID": "c1", "Name": "cerere.pdf"}]},
        "ShortContentDescription": "Cerere",
    })
    out["id"] = rid
    r = c.service.GetSignResponse(requestID=rid, language="en")
    out["status"], out["message"] = r.Status, r.Message
    out["notFound"] = fault(lambda: c.service.GetSignResponse(requestID="0" * 32, language="en"))
    out["invalid"] = fault(lambda: c.service.PostSignRequest(request={
        "ContentType": "Pdf", "Contents": {"SignContent": [{"Content": b"not a pdf", "CorrelationID": "c1"}]}}))
    out["authn"] = fault(lambda: client("").service.GetSignResponse(requestID=rid))
    out["authz"] = fault(lambda: client(other).service.GetSignResponse(requestID=rid))
else:
    r = c.service.GetSignResponse(requestID=arg, language="ro")
    out["status"], out["message"] = r.Status, r.Message
    out["results"] = [{
        "correlationID": x.CorrelationID,
        "signatureSha256": hashlib.sha256(x.Signature).hexdigest(),
        "certificate": base64.b64encode(x.Certificate).decode(),
    } for x in (r.Results.SignResult if r.Results else [])]
    if r.Results:
        pdf = r.Results.SignResult[0].Signature
        v = c.service.VerifySignatures(request={
            "Contents": {"VerificationContent": [
                {"CorrelationID": "good", "Signature": pdf},
                {"CorrelationID": "changed", "Signature": pdf.replace(b"Cerere SOAP", b"Cerere SOAX", 1)},
            ]},
            "Language": "en", "ReportPdf": True, "SignedContentType": "Pdf"})
        out["verify"] = [{
            "correlationID": x.CorrelationID, "valid": x.SignaturesValid, "message": x.Message,
            "reportPdf": base64.b64encode(x.ReportPdf or b"").decode(),
            "signers": [{"valid": y.SignatureValid, "subject": y.Subject, "signedAt": y.SignedAt is not None}
                        for y in (x.Certificates.VerificationCertificate if x.Certificates else [])],
        } for x in v.VerificationResult]  # zeep unwraps the one-element VerificationResponse
print(json.dumps(out))
