package mobileid

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/semnat/semnat/testcerts"
)

// The ETSI TS 102 204 REST/JSON face (Swisscom / Kiuru style):
//
//	POST /rest/service/sign | status | receipt | profile   (Swisscom)
//	POST /rest/service       top-level key selects the operation (Kiuru)

// ETSI URIs.
const (
	ETSINamespace = "http://uri.etsi.org/TS102204/v1.1.2#"
	SOAPNamespace = "http://www.w3.org/2003/05/soap-envelope"
	FormatPKCS7   = "http://uri.etsi.org/TS102204/v1.1.2#PKCS7"
	FormatCMS     = "http://uri.etsi.org/TS102204/v1.1.2#CMS-Signature"
	FormatPKCS1   = "http://mss.ficom.fi/TS102204/v1.0.0#PKCS1"
	FormatKiuruP1 = "http://www.methics.fi/KiuruMSSP/v3.2.0#PKCS1"
	// Signature profiles of the simulator (Moldova's real profile URIs are not
	// public). Any profile URI containing "auth" selects the authentication key.
	ProfileSign = "http://mss.semnat.test/profiles/sign"
	ProfileAuth = "http://mss.semnat.test/profiles/auth"
)

// etsiString accepts a JSON string, number, or an object {"mssURI"|"Value"|"URI": ...}:
// real clients send all of these.
type etsiString string

func (e *etsiString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	switch b[0] {
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*e = etsiString(s)
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		for _, k := range []string{"mssURI", "Value", "URI", "DNSName", "IdentifierString"} {
			if v, ok := m[k]; ok {
				return e.UnmarshalJSON(v)
			}
		}
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*e = etsiString(n.String())
	}
	return nil
}

type etsiAPInfo struct {
	APID      string `json:"AP_ID"`
	APPWD     string `json:"AP_PWD,omitempty"`
	APTransID string `json:"AP_TransID"`
	Instant   string `json:"Instant,omitempty"`
	APURL     string `json:"AP_URL,omitempty"`
}

type etsiMSSPInfo struct {
	MSSPID  etsiMSSPID `json:"MSSP_ID"`
	Instant string     `json:"Instant,omitempty"`
}

type etsiMSSPID struct {
	URI string `json:"URI"`
}

type etsiMobileUser struct {
	MSISDN string `json:"MSISDN"`
}

type etsiData struct {
	Data     string `json:"Data"`
	MimeType string `json:"MimeType,omitempty"`
	Encoding string `json:"Encoding,omitempty"`
}

type etsiSignReq struct {
	MajorVersion       etsiString        `json:"MajorVersion"`
	MinorVersion       etsiString        `json:"MinorVersion"`
	MessagingMode      etsiString        `json:"MessagingMode"`
	TimeOut            etsiString        `json:"TimeOut"`
	ValidityDate       etsiString        `json:"ValidityDate"`
	APInfo             etsiAPInfo        `json:"AP_Info"`
	MobileUser         etsiMobileUser    `json:"MobileUser"`
	DataToBeSigned     *etsiData         `json:"DataToBeSigned"`
	DataToBeDisplayed  *etsiData         `json:"DataToBeDisplayed"`
	SignatureProfile   etsiString        `json:"SignatureProfile"`
	MSSFormat          etsiString        `json:"MSS_Format"`
	AdditionalServices []json.RawMessage `json:"AdditionalServices"`
}

type etsiStatusReq struct {
	APInfo      etsiAPInfo     `json:"AP_Info"`
	MSSPTransID etsiString     `json:"MSSP_TransID"`
	MobileUser  etsiMobileUser `json:"MobileUser"`
}

type etsiReceiptReq struct {
	APInfo      etsiAPInfo `json:"AP_Info"`
	MSSPTransID etsiString `json:"MSSP_TransID"`
	Message     *etsiData  `json:"Message"`
}

type etsiProfileReq struct {
	APInfo     etsiAPInfo     `json:"AP_Info"`
	MobileUser etsiMobileUser `json:"MobileUser"`
	Params     string         `json:"Params"`
}

type etsiEnvelope struct {
	Sign    *etsiSignReq    `json:"MSS_SignatureReq"`
	Status  *etsiStatusReq  `json:"MSS_StatusReq"`
	Receipt *etsiReceiptReq `json:"MSS_ReceiptReq"`
	Profile *etsiProfileReq `json:"MSS_ProfileReq"`
}

type etsiStatusCode struct {
	Value string `json:"Value"`
}

type etsiStatus struct {
	StatusCode    etsiStatusCode `json:"StatusCode"`
	StatusMessage string         `json:"StatusMessage"`
	StatusDetail  any            `json:"StatusDetail,omitempty"`
}

type etsiPKCS1 struct {
	SignatureValue  string `json:"SignatureValue"`
	X509Certificate string `json:"X509Certificate"`
}

type etsiSignature struct {
	Base64Signature string     `json:"Base64Signature,omitempty"`
	PKCS1           *etsiPKCS1 `json:"PKCS1,omitempty"`
}

type etsiResp struct {
	MajorVersion     string          `json:"MajorVersion"`
	MinorVersion     string          `json:"MinorVersion"`
	APInfo           *etsiAPInfo     `json:"AP_Info,omitempty"`
	MSSPInfo         etsiMSSPInfo    `json:"MSSP_Info"`
	MSSPTransID      string          `json:"MSSP_TransID,omitempty"`
	MobileUser       *etsiMobileUser `json:"MobileUser,omitempty"`
	MSSSignature     *etsiSignature  `json:"MSS_Signature,omitempty"`
	SignatureProfile any             `json:"SignatureProfile,omitempty"`
	Status           etsiStatus      `json:"Status"`
}

type etsiSubCode struct {
	Value   string       `json:"Value"`
	ValueNs string       `json:"ValueNs,omitempty"`
	SubCode *etsiSubCode `json:"SubCode,omitempty"`
}

type etsiFault struct {
	Code struct {
		Value   string       `json:"Value"`
		ValueNs string       `json:"ValueNs"`
		SubCode *etsiSubCode `json:"SubCode"`
	} `json:"Code"`
	Reason string `json:"Reason"`
	Detail string `json:"Detail,omitempty"`
}

// fault is an ETSI fault to answer with.
type fault struct {
	code   StatusCode
	sub    string
	detail string
}

func etsiFaultBody(f fault) map[string]etsiFault {
	var out etsiFault
	out.Code.Value, out.Code.ValueNs = "Receiver", SOAPNamespace
	if f.sender() {
		out.Code.Value = "Sender"
	}
	sc := &etsiSubCode{Value: "_" + strconv.Itoa(int(f.code)), ValueNs: ETSINamespace}
	if f.sub != "" {
		sc.SubCode = &etsiSubCode{Value: "_" + f.sub, ValueNs: ETSINamespace}
	}
	out.Code.SubCode, out.Reason, out.Detail = sc, f.code.String(), f.detail
	return map[string]etsiFault{"Fault": out}
}

func etsiWrite(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// etsiFail answers with fault f. A Sender fault (the request was wrong: the
// 1xx codes below 109, and 7xx) is a client error: 401 for an unknown AP
// (with a Basic challenge, as AP_ID/AP_PWD may come by HTTP Basic), 413 for
// a body over the limit, 400 otherwise. A Receiver fault (the transaction's
// outcome: user cancel, PIN blocked, expired ...) keeps the 500 of the SOAP
// binding that the ETSI REST faces copy.
func etsiFail(w http.ResponseWriter, f fault) {
	code := f.httpStatus()
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="MSSP", charset="UTF-8"`)
	}
	etsiWrite(w, code, etsiFaultBody(f))
}

func (f fault) sender() bool { return f.code < 109 || (f.code >= 700 && f.code < 800) }

func (f fault) httpStatus() int {
	switch {
	case !f.sender():
		return http.StatusInternalServerError
	case f.code == UnauthorizedAccess:
		return http.StatusUnauthorized
	case f.code == WrongDataLength && f.detail == tooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// tooLarge is the detail of the fault for a body over readBody's limit.
const tooLarge = "request body too large"

func status(c StatusCode) etsiStatus {
	return etsiStatus{StatusCode: etsiStatusCode{Value: strconv.Itoa(int(c))}, StatusMessage: c.String()}
}

func (s *Simulator) msspInfo() etsiMSSPInfo {
	return etsiMSSPInfo{MSSPID: etsiMSSPID{URI: s.msspID}, Instant: time.Now().Format("2006-01-02T15:04:05.000Z07:00")}
}

// etsiAuth checks the application provider: AP_ID + AP_PWD from AP_Info
// (or HTTP Basic), and its TLS client certificate when one is configured.
func (s *Simulator) etsiAuth(r *http.Request, info *etsiAPInfo) (string, *fault) {
	id, pwd := info.APID, info.APPWD
	if u, p, ok := r.BasicAuth(); ok {
		if id == "" {
			id = u
		}
		if pwd == "" && u == id {
			pwd = p
		}
	}
	for _, ap := range s.aps {
		if subtle.ConstantTimeCompare([]byte(ap.ID), []byte(id)) != 1 || subtle.ConstantTimeCompare([]byte(ap.Password), []byte(pwd)) != 1 {
			continue
		}
		if len(ap.ClientCertSHA256) > 0 {
			if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
				return "", &fault{UnauthorizedAccess, "", "TLS client certificate required"}
			}
			fp := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
			ok := false
			for _, want := range ap.ClientCertSHA256 {
				ok = ok || subtle.ConstantTimeCompare(fp[:], want[:]) == 1
			}
			if !ok {
				return "", &fault{UnauthorizedAccess, "", "TLS client certificate not registered for this AP"}
			}
		}
		return ap.ID, nil
	}
	return "", &fault{UnauthorizedAccess, "", "unknown AP_ID or wrong AP_PWD"}
}

func (s *Simulator) etsiRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /rest/service", func(w http.ResponseWriter, r *http.Request) { s.etsiServe(w, r, "") })
	mux.HandleFunc("POST /rest/service/{op}", func(w http.ResponseWriter, r *http.Request) { s.etsiServe(w, r, r.PathValue("op")) })
}

func (s *Simulator) etsiServe(w http.ResponseWriter, r *http.Request, op string) {
	body, err := readBody(w, r)
	if err != nil {
		etsiFail(w, fault{WrongDataLength, "", tooLarge})
		return
	}
	var env etsiEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		etsiFail(w, fault{WrongParam, "", "malformed JSON: " + err.Error()})
		return
	}
	n := 0
	for _, p := range []bool{env.Sign != nil, env.Status != nil, env.Receipt != nil, env.Profile != nil} {
		if p {
			n++
		}
	}
	want := map[string]bool{"": n == 1, "sign": env.Sign != nil, "status": env.Status != nil, "receipt": env.Receipt != nil, "profile": env.Profile != nil}
	if ok, known := want[op]; !known || !ok || n != 1 {
		etsiFail(w, fault{IncompatibleInterface, "", "expected exactly one of MSS_SignatureReq, MSS_StatusReq, MSS_ReceiptReq, MSS_ProfileReq matching the URL"})
		return
	}
	switch {
	case env.Sign != nil:
		s.etsiSign(w, r, env.Sign)
	case env.Status != nil:
		s.etsiStatus(w, r, env.Status)
	case env.Receipt != nil:
		s.etsiReceipt(w, r, env.Receipt)
	default:
		s.etsiProfile(w, r, env.Profile)
	}
}

// validTransID: 1-32 characters, no colon, no spaces (NCName-like).
func validTransID(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if c == ':' || c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// parseDTBS turns the DataToBeSigned into what the SIM signs.
func parseDTBS(d *etsiData) (h crypto.Hash, digest, text []byte, f *fault) {
	if d == nil || d.Data == "" {
		return 0, nil, nil, &fault{MissingParam, "1022", "DataToBeSigned missing"}
	}
	mime := strings.ToLower(strings.TrimSpace(d.MimeType))
	enc := strings.ToLower(d.Encoding)
	b64 := func() ([]byte, *fault) {
		if enc != "base64" {
			return nil, &fault{InappropriateData, "", "Encoding must be base64 for " + mime}
		}
		b, err := base64.StdEncoding.DecodeString(d.Data)
		if err != nil {
			return nil, &fault{WrongParam, "", "DataToBeSigned is not valid base64"}
		}
		return b, nil
	}
	switch mime {
	case "", "text/plain", "text/plain;ucs2", "text/plain;gsm", "text/plain; charset=utf-8":
		if enc != "" && enc != "utf-8" {
			return 0, nil, nil, &fault{InappropriateData, "", "text/plain needs Encoding UTF-8"}
		}
		if !utf8.ValidString(d.Data) || utf8.RuneCountInString(d.Data) > 160 {
			return 0, nil, nil, &fault{WrongDataLength, "", "DataToBeSigned text longer than 160 characters"}
		}
		t := []byte(PhoneText(d.Data, GSM7))
		if mime == "text/plain;ucs2" {
			t = []byte(d.Data)
		}
		return crypto.SHA256, textDigest(t), t, nil
	case "application/x-sha256", "application/x-sha384", "application/x-sha512":
		h = map[string]crypto.Hash{"application/x-sha256": crypto.SHA256, "application/x-sha384": crypto.SHA384, "application/x-sha512": crypto.SHA512}[mime]
		b, f := b64()
		if f != nil {
			return 0, nil, nil, f
		}
		if len(b) != h.Size() {
			return 0, nil, nil, &fault{WrongDataLength, "", "digest length does not match " + mime}
		}
		return h, b, nil, nil
	case "application/x-sha1":
		return 0, nil, nil, &fault{InappropriateData, "", "SHA-1 digests are not accepted"}
	case "application/octet-stream":
		b, f := b64()
		if f != nil {
			return 0, nil, nil, f
		}
		var di struct {
			Alg struct {
				OID    asn1.ObjectIdentifier
				Params asn1.RawValue `asn1:"optional"`
			}
			Digest []byte
		}
		if rest, err := asn1.Unmarshal(b, &di); err == nil && len(rest) == 0 {
			if h := hashFromOID(di.Alg.OID); h != 0 && len(di.Digest) == h.Size() {
				return h, di.Digest, nil, nil
			}
		}
		if len(b) < 8 || len(b) > 160 {
			return 0, nil, nil, &fault{WrongDataLength, "", "challenge must be 8 to 160 bytes"}
		}
		return crypto.SHA256, textDigest(b), b, nil
	}
	return 0, nil, nil, &fault{InappropriateData, "1016", "unsupported MimeType " + d.MimeType}
}

// parseDTBD returns the text the phone displays: at most 239 GSM 03.38
// characters, or 119 if any is outside GSM 03.38 (Swisscom limits).
func parseDTBD(d *etsiData) (string, *fault) {
	if d == nil {
		return "", nil
	}
	if m := strings.ToLower(d.MimeType); m != "" && !strings.HasPrefix(m, "text/plain") {
		return "", &fault{InappropriateData, "", "DataToBeDisplayed must be text/plain"}
	}
	if !utf8.ValidString(d.Data) {
		return "", &fault{InappropriateData, "", "DataToBeDisplayed is not UTF-8"}
	}
	limit, n := 239, utf8.RuneCountInString(d.Data)
	if !IsGSM7(d.Data) {
		limit, n = 119, len(utf16.Encode([]rune(d.Data)))
	}
	if n > limit {
		return "", &fault{WrongDataLength, "", "DataToBeDisplayed longer than " + strconv.Itoa(limit) + " characters"}
	}
	return d.Data, nil
}

func (s *Simulator) etsiSign(w http.ResponseWriter, r *http.Request, req *etsiSignReq) {
	ap, f := s.etsiAuth(r, &req.APInfo)
	if f != nil {
		etsiFail(w, *f)
		return
	}
	mode := string(req.MessagingMode)
	switch mode {
	case "", "synch", "asynchClientServer", "asynch":
	default:
		etsiFail(w, fault{WrongParam, "1013", "MessagingMode " + mode + " not supported (synch or asynchClientServer)"})
		return
	}
	tid := req.APInfo.APTransID
	if tid == "" {
		etsiFail(w, fault{MissingParam, "", "AP_TransID missing"})
		return
	}
	if !validTransID(tid) {
		etsiFail(w, fault{WrongParam, "", "AP_TransID must be 1-32 characters without colons"})
		return
	}
	if req.APInfo.Instant != "" {
		at, err := time.Parse(time.RFC3339Nano, req.APInfo.Instant)
		if err != nil {
			etsiFail(w, fault{WrongParam, "", "Instant is not an xsd:dateTime with time zone"})
			return
		}
		if d := time.Since(at); d > 5*time.Minute || d < -5*time.Minute {
			etsiFail(w, fault{WrongParam, "", "Instant too far from the MSSP's clock"})
			return
		}
	}
	msisdn := normalizeMSISDN(req.MobileUser.MSISDN)
	if msisdn == "" {
		etsiFail(w, fault{WrongParam, "", "Illegal msisdn"})
		return
	}
	h, digest, text, f := parseDTBS(req.DataToBeSigned)
	if f != nil {
		etsiFail(w, *f)
		return
	}
	display, f := parseDTBD(req.DataToBeDisplayed)
	if f != nil {
		etsiFail(w, *f)
		return
	}
	if display == "" && text != nil && req.DataToBeSigned.MimeType != "application/octet-stream" {
		display = string(text)
	}
	pkcs7 := true
	switch string(req.MSSFormat) {
	case "", FormatPKCS7, FormatCMS:
	case FormatPKCS1, FormatKiuruP1:
		pkcs7 = false
	default:
		etsiFail(w, fault{WrongParam, "1017", "MSS_Format not supported"})
		return
	}
	for _, raw := range req.AdditionalServices {
		var svc struct {
			Description etsiString `json:"Description"`
		}
		json.Unmarshal(raw, &svc)
		switch d := string(svc.Description); {
		case strings.HasSuffix(d, "#userLang"), strings.HasSuffix(d, "#eventId"), strings.HasSuffix(d, "#noSpam"), strings.HasSuffix(d, "#validate"):
		default:
			etsiFail(w, fault{WrongParam, "1014", "unknown AdditionalService " + d})
			return
		}
	}
	timeout := etsiTimeout
	if req.TimeOut != "" {
		sec, err := strconv.Atoi(string(req.TimeOut))
		if err != nil || sec <= 0 {
			etsiFail(w, fault{WrongParam, "", "TimeOut must be a positive number of seconds"})
			return
		}
		timeout = min(time.Duration(sec)*time.Second, etsiMaxTimeout)
	}
	if req.ValidityDate != "" {
		at, err := time.Parse(time.RFC3339Nano, string(req.ValidityDate))
		if err != nil {
			etsiFail(w, fault{WrongParam, "", "ValidityDate is not an xsd:dateTime"})
			return
		}
		// ValidityDate is wall-clock: the simulated remainder is scaled in start.
		if d := time.Until(at); d < timeout {
			if d <= 0 {
				etsiFail(w, fault{ExpiredTransaction, "2081", "ValidityDate already passed"})
				return
			}
			timeout = d
		}
	}
	auth := strings.Contains(strings.ToLower(string(req.SignatureProfile)), "auth")
	// AP_TransID: unique per AP.
	key := ap + "\x00" + tid
	now := time.Now()
	s.mu.Lock()
	if until, used := s.apTrans[key]; used && now.Before(until) {
		s.mu.Unlock()
		etsiFail(w, fault{WrongParam, "", "AP_TransID already used by this AP"})
		return
	}
	s.apTrans[key] = now.Add(s.d(apTransWindow))
	s.prune(now)
	s.mu.Unlock()

	t, out := s.start(&request{face: FaceETSI, caller: ap, auth: auth, pkcs7: pkcs7, msisdn: msisdn,
		hash: h, digest: digest, text: text, display: display, apTransID: tid, timeout: timeout}, false)
	if t == nil {
		etsiFail(w, etsiFaultOf(out))
		return
	}
	resp := etsiResp{MajorVersion: "1", MinorVersion: "1", APInfo: &etsiAPInfo{APID: ap, APTransID: tid, Instant: req.APInfo.Instant},
		MSSPInfo: s.msspInfo(), MSSPTransID: t.id, MobileUser: &etsiMobileUser{MSISDN: msisdn}}
	if mode == "asynchClientServer" || mode == "asynch" {
		resp.Status = status(RequestOK)
		etsiWrite(w, 200, map[string]etsiResp{"MSS_SignatureResp": resp})
		return
	}
	for {
		s.wait(r.Context(), t, time.Until(t.deadline)+s.d(time.Second)+10*time.Millisecond, false)
		if r.Context().Err() != nil || s.view(t).state.final() {
			break
		}
	}
	if r.Context().Err() != nil {
		return
	}
	s.etsiResult(w, "MSS_SignatureResp", resp, t)
}

// etsiResult answers with t's current result: 504, 500/501/503 with the
// signature, or a fault.
func (s *Simulator) etsiResult(w http.ResponseWriter, key string, resp etsiResp, t *txn) {
	v := s.view(t)
	if !v.state.final() {
		resp.Status = status(OutstandingTransaction)
		etsiWrite(w, 200, map[string]etsiResp{key: resp})
		return
	}
	f := etsiFaultOf(v.result)
	if f.code != Signature && f.code != RevokedCertificate && f.code != InvalidSignature {
		etsiFail(w, f)
		return
	}
	if t.auth {
		resp.SignatureProfile = ProfileAuth
	} else {
		resp.SignatureProfile = ProfileSign
	}
	ent := v.keys.sign
	if t.auth {
		ent = v.keys.auth
	}
	sig := &etsiSignature{}
	if t.pkcs7 {
		sig.Base64Signature = base64.StdEncoding.EncodeToString(v.sig)
	} else {
		sig.PKCS1 = &etsiPKCS1{SignatureValue: base64.StdEncoding.EncodeToString(v.sig), X509Certificate: base64.StdEncoding.EncodeToString(ent.Cert.Raw)}
	}
	resp.MSSSignature = sig
	resp.Status = status(f.code)
	if f.detail != "" {
		resp.Status.StatusDetail = f.detail
	}
	etsiWrite(w, 200, map[string]etsiResp{key: resp})
}

// etsiFaultOf maps an outcome to its ETSI code (README table).
func etsiFaultOf(o outcome) fault {
	switch o {
	case outOK:
		return fault{Signature, "", ""}
	case outRevoked:
		return fault{RevokedCertificate, "", "the signer's certificate is revoked"}
	case outBadSignature:
		return fault{InvalidSignature, "", "the signature does not verify"}
	case outCancel:
		return fault{UserCancel, "4011", "User cancelled the request"}
	case outWrongPIN:
		return fault{UserCancel, "4012", "Wrong PIN entered"}
	case outTimeout:
		return fault{ExpiredTransaction, "2082", "The user did not answer in time"}
	case outPhoneAbsent:
		return fault{OTAError, "2093", "Handset not reachable"}
	case outDelivery:
		return fault{OTAError, "2091", "Message could not be delivered"}
	case outPINBlocked:
		return fault{PINNrBlocked, "4021", "PIN blocked"}
	case outPUKBlocked:
		return fault{CardBlocked, "4031", "PUK blocked"}
	case outUnknownUser:
		return fault{UnknownClient, "1052", "MSISDN does not exist"}
	case outNotClient:
		return fault{UnknownClient, "1053", "User has no mobile signature"}
	case outKeysInactive:
		return fault{NoKeyFound, "4041", "Mobile signature keys not active"}
	case outCertExpired:
		return fault{NoCertFound, "", "No valid certificate: expired"}
	case outBusy:
		return fault{PBSignatureProcess, "", "A signature request is already pending on this SIM"}
	}
	return fault{InternalError, "9003", "SIM application error"}
}

// etsiTxn authenticates the AP of a status or receipt request and finds
// its transaction.
func (s *Simulator) etsiTxn(r *http.Request, info *etsiAPInfo, id string) (string, *txn, *fault) {
	ap, f := s.etsiAuth(r, info)
	if f != nil {
		return "", nil, f
	}
	t, f := s.etsiFindTxn(ap, id)
	return ap, t, f
}

// etsiFindTxn finds the transaction id of ap.
func (s *Simulator) etsiFindTxn(ap, id string) (*txn, *fault) {
	if id == "" {
		return nil, &fault{MissingParam, "", "MSSP_TransID missing"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txns[id]
	if t == nil || t.face != FaceETSI {
		if g, ok := s.gone[id]; ok && g.caller == ap {
			return nil, &fault{ExpiredTransaction, "2081", "transaction finished too long ago"}
		}
		return nil, &fault{WrongParam, "", "unknown MSSP_TransID"}
	}
	if t.caller != ap {
		return nil, &fault{UnauthorizedAccess, "", "MSSP_TransID belongs to another AP"}
	}
	return t, nil
}

func (s *Simulator) etsiStatus(w http.ResponseWriter, r *http.Request, req *etsiStatusReq) {
	ap, t, f := s.etsiTxn(r, &req.APInfo, string(req.MSSPTransID))
	if f != nil {
		etsiFail(w, *f)
		return
	}
	resp := etsiResp{MajorVersion: "1", MinorVersion: "1", APInfo: &etsiAPInfo{APID: ap, APTransID: req.APInfo.APTransID},
		MSSPInfo: s.msspInfo(), MSSPTransID: t.id, MobileUser: &etsiMobileUser{MSISDN: t.sim.MSISDN}}
	s.etsiResult(w, "MSS_StatusResp", resp, t)
}

func (s *Simulator) etsiReceipt(w http.ResponseWriter, r *http.Request, req *etsiReceiptReq) {
	ap, t, f := s.etsiTxn(r, &req.APInfo, string(req.MSSPTransID))
	if f != nil {
		etsiFail(w, *f)
		return
	}
	s.mu.Lock()
	switch {
	case !t.state.final():
		f = &fault{WrongParam, "", "transaction not finished"}
	case t.receipt:
		f = &fault{WrongParam, "", "receipt already sent for this transaction"}
	default:
		t.receipt = true
	}
	s.mu.Unlock()
	if f != nil {
		etsiFail(w, *f)
		return
	}
	resp := etsiResp{MajorVersion: "1", MinorVersion: "1", APInfo: &etsiAPInfo{APID: ap, APTransID: req.APInfo.APTransID},
		MSSPInfo: s.msspInfo(), MSSPTransID: t.id, Status: status(RequestOK)}
	etsiWrite(w, 200, map[string]etsiResp{"MSS_ReceiptResp": resp})
}

func (s *Simulator) etsiProfile(w http.ResponseWriter, r *http.Request, req *etsiProfileReq) {
	ap, f := s.etsiAuth(r, &req.APInfo)
	if f != nil {
		etsiFail(w, *f)
		return
	}
	sm := s.lookup(req.MobileUser.MSISDN)
	switch {
	case normalizeMSISDN(req.MobileUser.MSISDN) == "":
		etsiFail(w, fault{WrongParam, "", "Illegal msisdn"})
		return
	case sm == nil:
		etsiFail(w, etsiFaultOf(outUnknownUser))
		return
	case sm.Behaviour == NotClient:
		etsiFail(w, etsiFaultOf(outNotClient))
		return
	}
	resp := etsiResp{MajorVersion: "1", MinorVersion: "1", APInfo: &etsiAPInfo{APID: ap, APTransID: req.APInfo.APTransID},
		MSSPInfo: s.msspInfo(), MobileUser: &etsiMobileUser{MSISDN: sm.MSISDN}, Status: status(RequestOK),
		SignatureProfile: []map[string]string{{"mssURI": ProfileSign}, {"mssURI": ProfileAuth}}}
	if p := req.Params; p != "" {
		k, err := s.keysOf(sm)
		if err != nil {
			etsiFail(w, fault{InternalError, "9002", "internal error"})
			return
		}
		state := "ACTIVE"
		switch sm.Behaviour {
		case KeysInactive:
			state = "INACTIVE"
		case CertExpired:
			state = "EXPIRED"
		case CertRevoked:
			state = "REVOKED"
		}
		s.mu.Lock()
		blocked := sm.pin2 == 0 || sm.puk == 0
		s.mu.Unlock()
		var certs []map[string]any
		for _, e := range []struct {
			ent     *testcerts.Entity
			profile string
		}{{k.sign, ProfileSign}, {k.auth, ProfileAuth}} {
			chain := []string{base64.StdEncoding.EncodeToString(e.ent.Cert.Raw)}
			for _, c := range e.ent.Chain {
				chain = append(chain, base64.StdEncoding.EncodeToString(c.Raw))
			}
			alg := "EC"
			if sm.KeyType == "rsa2048" {
				alg = "RSA"
			}
			certs = append(certs, map[string]any{"Algorithm": alg, "State": state, "SignatureProfile": e.profile, "X509Certificate": chain})
		}
		resp.Status.StatusDetail = map[string]any{"ProfileQueryExtension": map[string]any{"Sscds": map[string]any{
			"Sim": map[string]any{"MobileUserCertificate": certs, "PinStatus": map[string]bool{"Blocked": blocked}}}}}
	}
	etsiWrite(w, 200, map[string]etsiResp{"MSS_ProfileResp": resp})
}
