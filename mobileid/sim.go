package mobileid

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/semnat/semnat/testcerts"
)

// Default credentials: the Mobile-ID relying party of SK's demo service, and
// an ETSI application provider for local use.
const (
	DefaultRelyingPartyName = "DEMO"
	DefaultRelyingPartyUUID = "00000000-0000-0000-0000-000000000000"
	DefaultAPID             = "http://ap.semnat.test"
	DefaultAPPassword       = "semnat-demo"
	DefaultMSSPID           = "http://mssp.semnat.test"
)

// Simulated durations, before Options.TimeScale.
const (
	deliveryDelay   = 300 * time.Millisecond // MSSP → phone
	answerDelay     = 700 * time.Millisecond // phone shows the prompt → scripted answer (about 1 s in all)
	slowAnswerDelay = 30 * time.Second       // ok-30s
	wrongPINDelay   = 3 * time.Second        // wrong-pin-then-ok on Mobile-ID: three tries in one session
	absentDelay     = time.Second            // delivery attempt before PHONE_ABSENT / DELIVERY_ERROR
	midTimeout      = 2 * time.Minute        // Mobile-ID TIMEOUT
	etsiTimeout     = 5 * time.Minute        // ETSI: neither TimeOut nor ValidityDate given (FiCom)
	etsiMaxTimeout  = 10 * time.Minute       //
	retention       = 5 * time.Minute        // finished sessions are kept this long, then 404
	apTransWindow   = 30 * 24 * time.Hour    // AP_TransID unique per AP for about a month
	minLongPoll     = time.Second            // Mobile-ID timeoutMs clamping
	maxLongPoll     = 2 * time.Minute        //
	defaultLongPoll = 10 * time.Second       //
	pinTries        = 3
	pukTries        = 10
)

// RelyingParty is a caller of the Mobile-ID face.
type RelyingParty struct {
	Name, UUID string
	// AllowedIPs restricts the source addresses (empty: any).
	AllowedIPs []netip.Prefix
}

// AP is an application provider allowed on the ETSI face.
type AP struct {
	ID, Password string
	// ClientCertSHA256, when set, requires a TLS client certificate whose
	// SHA-256 fingerprint is listed (mutual TLS).
	ClientCertSHA256 [][32]byte
}

// Options configure a Simulator.
type Options struct {
	// PKI holds the mobile-signature CA (PKI.MobileCA) that issues the SIM
	// certificates; the simulator adds its certificates (and revokes the
	// revoked test user's) in it, so give it a PKI of its own, or the one
	// the OCSP responder serves. Required.
	PKI *testcerts.PKI
	// Users adds registry entries to the built-in scripted users.
	Users []User
	// GeneratedUsers adds manual users +37369000000 ... (GeneratedUser),
	// whose keys are created on first use.
	GeneratedUsers int
	// RelyingParties of the Mobile-ID face (default: DEMO, all-zero UUID).
	RelyingParties []RelyingParty
	// APs of the ETSI face (default: DefaultAPID / DefaultAPPassword).
	APs []AP
	// TimeScale multiplies every simulated duration (think times, time-outs,
	// retention, long-poll bounds): 0.001 runs a 2-minute time-out in 120 ms.
	// 0 means 1 (real time).
	TimeScale float64
	// Phone enables the virtual phone endpoints under /sim/.
	Phone bool
	// MSSPID is the MSSP_ID URI of the ETSI face (default DefaultMSSPID).
	MSSPID string
	// Log receives events (never PINs or keys); nil discards.
	Log *slog.Logger
}

// State is a transaction state.
type State string

// Transaction states.
const (
	StateDelivering State = "delivering"
	StateAwaiting   State = "awaiting_user"
	StateSigned     State = "signed"
	StateCancelled  State = "cancelled"
	StateExpired    State = "expired"
	StateFailed     State = "failed"
)

func (s State) final() bool {
	return s == StateSigned || s == StateCancelled || s == StateExpired || s == StateFailed
}

// outcome is the face-neutral result of a transaction.
type outcome uint8

const (
	outPending outcome = iota
	outOK
	outRevoked // signed, certificate revoked
	outBadSignature
	outCancel
	outWrongPIN
	outTimeout
	outPhoneAbsent
	outDelivery
	outSIMError
	outPINBlocked
	outPUKBlocked
	outUnknownUser
	outNotClient
	outKeysInactive
	outCertExpired
	outBusy
)

var outcomeNames = [...]string{"pending", "ok", "ok (certificate revoked)", "invalid signature", "cancelled",
	"wrong PIN", "time-out", "phone absent", "delivery error", "SIM error", "PIN blocked", "PUK blocked",
	"unknown user", "not a mobile signature user", "keys inactive", "certificate expired", "busy"}

func (o outcome) String() string { return outcomeNames[o] }

func (o outcome) signed() bool { return o == outOK || o == outRevoked || o == outBadSignature }

type simKeys struct{ auth, sign *testcerts.Entity }

// sim is a SIM card with its user. Mutable fields are guarded by Simulator.mu.
type sim struct {
	User
	pin1, pin2, puk int // tries left
	attempts        int // wrong-pin-then-ok cycle
	pending         *txn
	keys            *simKeys
	last            string // last outcome, for /state
}

// txn is one signature or authentication transaction. Mutable fields are
// guarded by Simulator.mu. Kept small: thousands may be pending at once.
type txn struct {
	id        string
	face      Face
	auth      bool
	pkcs7     bool
	caller    string // Mobile-ID relying party name, or ETSI AP_ID
	ip        netip.Addr
	sim       *sim
	hash      crypto.Hash
	digest    []byte // digest to sign
	text      []byte // ETSI text DTBS (digest is its SHA-256)
	display   string
	apTransID string
	created   time.Time
	deadline  time.Time
	next      time.Time // when the armed timer is due
	state     State
	result    outcome
	sig       []byte // PKCS#1 v1.5, ASN.1 ECDSA, or DER CMS (pkcs7)
	finished  time.Time
	done      chan struct{} // closed when final; made on demand
	poller    chan struct{} // current Mobile-ID long poll, closed when superseded
	timer     *time.Timer
	receipt   bool
}

type tomb struct {
	caller string
	until  time.Time
}

// Simulator is the MSSP simulator engine. Its Handler serves both protocol
// faces and the virtual phone. Safe for concurrent use.
type Simulator struct {
	pki     *testcerts.PKI
	scale   float64
	phone   bool
	gen     int
	msspID  string
	log     *slog.Logger
	rps     []RelyingParty
	aps     []AP
	handler http.Handler

	pkiMu sync.Mutex // PKI.Issue is not concurrency-safe

	mu      sync.Mutex
	closed  bool
	sims    map[string]*sim
	txns    map[string]*txn
	gone    map[string]tomb      // removed ETSI transactions → 208
	apTrans map[string]time.Time // AP_ID \x00 AP_TransID → until
}

// New builds a simulator: it issues the SIM certificates of the scripted
// users and of opts.Users from opts.PKI.MobileCA (this takes a moment for
// RSA keys).
func New(opts Options) (*Simulator, error) {
	if opts.PKI == nil || opts.PKI.MobileCA == nil || opts.PKI.MobileCA.Key == nil {
		return nil, errors.New("mobileid: Options.PKI with the mobile-signature CA and its key is required")
	}
	if opts.TimeScale < 0 {
		return nil, errors.New("mobileid: Options.TimeScale must not be negative")
	}
	if opts.GeneratedUsers < 0 || opts.GeneratedUsers > 100000 {
		return nil, errors.New("mobileid: Options.GeneratedUsers must be 0..100000")
	}
	s := &Simulator{
		pki: opts.PKI, scale: opts.TimeScale, phone: opts.Phone, gen: opts.GeneratedUsers,
		msspID: opts.MSSPID, log: opts.Log, rps: opts.RelyingParties, aps: opts.APs,
		sims: map[string]*sim{}, txns: map[string]*txn{}, gone: map[string]tomb{}, apTrans: map[string]time.Time{},
	}
	if s.scale == 0 {
		s.scale = 1
	}
	if s.msspID == "" {
		s.msspID = DefaultMSSPID
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if len(s.rps) == 0 {
		s.rps = []RelyingParty{{Name: DefaultRelyingPartyName, UUID: DefaultRelyingPartyUUID}}
	}
	if len(s.aps) == 0 {
		s.aps = []AP{{ID: DefaultAPID, Password: DefaultAPPassword}}
	}
	users := append(ScriptedUsers(), opts.Users...)
	for i := range users {
		u := users[i]
		if err := u.check(); err != nil {
			return nil, fmt.Errorf("mobileid: user %w", err)
		}
		if _, dup := s.sims[u.MSISDN]; dup {
			return nil, fmt.Errorf("mobileid: user %s listed twice", u.MSISDN)
		}
		s.sims[u.MSISDN] = newSIM(u)
	}
	// Generate the keys in parallel (RSA is slow), then issue in order.
	list := make([]*sim, 0, len(s.sims))
	for _, u := range users {
		list = append(list, s.sims[normalizeMSISDN(u.MSISDN)])
	}
	type pair struct{ a, b crypto.Signer }
	keys := make([]pair, len(list))
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, sm := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			kt := testcerts.KeyType(sm.KeyType)
			a, err := testcerts.NewKey(kt)
			if err != nil {
				errs[i] = err
				return
			}
			b, err := testcerts.NewKey(kt)
			keys[i], errs[i] = pair{a, b}, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mobileid: SIM keys: %w", err)
	}
	for i, sm := range list {
		k, err := s.issue(sm.User, keys[i].a, keys[i].b)
		if err != nil {
			return nil, err
		}
		sm.keys = k
	}
	s.handler = s.routes()
	return s, nil
}

func newSIM(u User) *sim {
	sm := &sim{User: u, pin1: pinTries, pin2: pinTries, puk: pukTries}
	switch u.Behaviour {
	case PINBlocked:
		sm.pin2 = 0
	case PUKBlocked:
		sm.pin1, sm.pin2, sm.puk = 0, 0, 0
	}
	return sm
}

// issue creates the authentication and signing certificates of u.
func (s *Simulator) issue(u User, authKey, signKey crypto.Signer) (*simKeys, error) {
	s.pkiMu.Lock()
	defer s.pkiMu.Unlock()
	subj := testcerts.Subject{CommonName: u.GivenName + " " + u.Surname, GivenName: u.GivenName, Surname: u.Surname, IDNP: u.IDNP}
	if u.Kind == "professional" {
		subj.Organization, subj.IDNO = u.Organization, u.IDNO
	}
	subj.Personal.DateOfBirth, subj.Personal.Gender = u.BirthDate, u.Gender
	if u.Residence != "" {
		subj.Personal.CountriesOfResidence = []string{u.Residence}
	}
	name := "sim" + strings.TrimPrefix(u.MSISDN, "+")
	if s.pki.Get(name+"-sign") != nil {
		name += "-" + randomHex(4)
	}
	auth, err := s.pki.Issue(testcerts.IssueRequest{Name: name + "-auth", Role: testcerts.RoleMobile, Issuer: s.pki.MobileCA, Key: authKey, Subject: subj, Profile: testcerts.ProfileAuth})
	if err != nil {
		return nil, fmt.Errorf("mobileid: issuing %s: %w", u.MSISDN, err)
	}
	req := testcerts.IssueRequest{Name: name + "-sign", Role: testcerts.RoleMobile, Issuer: s.pki.MobileCA, Key: signKey, Subject: subj, Profile: testcerts.ProfileSigning}
	now := time.Now()
	if u.Behaviour == CertExpired {
		req.Role, req.NotBefore, req.NotAfter = testcerts.RoleExpired, now.AddDate(-2, 0, 0), now.Add(-24*time.Hour)
	}
	sign, err := s.pki.Issue(req)
	if err != nil {
		return nil, fmt.Errorf("mobileid: issuing %s: %w", u.MSISDN, err)
	}
	if u.Behaviour == CertRevoked {
		s.pki.Revoke(sign, now.Add(-24*time.Hour), testcerts.ReasonKeyCompromise)
	}
	return &simKeys{auth: auth, sign: sign}, nil
}

// keysOf returns the SIM's keys, creating them for generated users.
func (s *Simulator) keysOf(sm *sim) (*simKeys, error) {
	s.mu.Lock()
	k := sm.keys
	s.mu.Unlock()
	if k != nil {
		return k, nil
	}
	a, err := testcerts.NewKey(testcerts.KeyType(sm.KeyType))
	if err != nil {
		return nil, err
	}
	b, err := testcerts.NewKey(testcerts.KeyType(sm.KeyType))
	if err != nil {
		return nil, err
	}
	k, err = s.issue(sm.User, a, b)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sm.keys == nil {
		sm.keys = k
	}
	return sm.keys, nil
}

// Handler serves /mid-api/, /rest/service and, with Options.Phone, /sim/.
func (s *Simulator) Handler() http.Handler { return s.handler }

// Close stops every timer; pending transactions never finish afterwards and
// new requests are refused.
func (s *Simulator) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, t := range s.txns {
		if t.timer != nil {
			t.timer.Stop()
		}
		if t.done != nil && !t.state.final() {
			t.state, t.result = StateFailed, outSIMError
			close(t.done)
			t.done = nil
		}
	}
	return nil
}

// Users lists the registry (scripted and file users; generated users are not listed).
func (s *Simulator) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, 0, len(s.sims))
	for _, sm := range s.sims {
		out = append(out, sm.User)
	}
	return out
}

// Certificates returns the signing and authentication certificates of msisdn
// with their chain (issuer first, root excluded).
func (s *Simulator) Certificates(msisdn string) (sign, auth *x509.Certificate, chain []*x509.Certificate, err error) {
	sm := s.lookup(msisdn)
	if sm == nil {
		return nil, nil, nil, fmt.Errorf("mobileid: %s is not in the registry", msisdn)
	}
	k, err := s.keysOf(sm)
	if err != nil {
		return nil, nil, nil, err
	}
	return k.sign.Cert, k.auth.Cert, k.sign.Chain, nil
}

func (s *Simulator) d(d time.Duration) time.Duration { return time.Duration(float64(d) * s.scale) }

// lookup finds the SIM of msisdn (any accepted spelling), creating generated users.
func (s *Simulator) lookup(msisdn string) *sim {
	m := normalizeMSISDN(msisdn)
	if m == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sm := s.sims[m]; sm != nil {
		return sm
	}
	if s.gen > 0 && strings.HasPrefix(m, "+373690") && len(m) == 12 {
		n := 0
		for _, c := range m[7:] {
			n = n*10 + int(c-'0')
		}
		if n < s.gen {
			sm := newSIM(GeneratedUser(n))
			s.sims[m] = sm
			return sm
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// request is what a face asks of the engine.
type request struct {
	face      Face
	caller    string
	ip        netip.Addr
	auth      bool
	pkcs7     bool
	msisdn    string
	idnp      string
	hash      crypto.Hash
	digest    []byte
	text      []byte
	display   string
	apTransID string
	timeout   time.Duration // simulated; 0: the face's default
}

// start creates a transaction. A request refused before reaching the phone
// returns outcome != outPending; with keepRefused (Mobile-ID, which always
// opens a session) a finished transaction is created for it all the same.
func (s *Simulator) start(r *request, keepRefused bool) (*txn, outcome) {
	sm := s.lookup(r.msisdn)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, outSIMError
	}
	out := outPending
	switch {
	case sm == nil:
		out = outUnknownUser
	case sm.Behaviour == NotClient || (r.idnp != "" && r.idnp != sm.IDNP):
		out = outNotClient
	case sm.Behaviour == KeysInactive:
		out = outKeysInactive
	case sm.Behaviour == CertExpired && !r.auth:
		out = outCertExpired
	case sm.Behaviour == Busy || sm.pending != nil:
		out = outBusy
	}
	if out != outPending && !keepRefused {
		return nil, out
	}
	now := time.Now()
	t := &txn{face: r.face, auth: r.auth, pkcs7: r.pkcs7, caller: r.caller, ip: r.ip, sim: sm,
		hash: r.hash, digest: r.digest, text: r.text, display: r.display, apTransID: r.apTransID,
		created: now, state: StateDelivering}
	if r.face == FaceMID {
		t.id = newUUID()
	} else {
		t.id = "T" + randomHex(12)
	}
	timeout := r.timeout
	if timeout <= 0 {
		timeout = midTimeout
		if r.face == FaceETSI {
			timeout = etsiTimeout
		}
	}
	t.deadline = now.Add(s.d(timeout))
	s.txns[t.id] = t
	if out != outPending {
		s.finish(t, out, nil)
		return t, out
	}
	sm.pending = t
	s.log.Info("transaction", "id", t.id, "face", r.face, "msisdn", sm.MSISDN, "caller", r.caller, "auth", r.auth)
	d := deliveryDelay
	if sm.Behaviour == PhoneAbsent || sm.Behaviour == DeliveryError {
		d = absentDelay
	}
	s.arm(t, s.d(d))
	return t, outPending
}

// arm schedules the next step of t in d. Caller holds s.mu.
func (s *Simulator) arm(t *txn, d time.Duration) {
	now := time.Now()
	if !t.state.final() {
		if rem := t.deadline.Sub(now); d > rem {
			d = rem
		}
	}
	if d < 0 {
		d = 0
	}
	t.next = now.Add(d)
	if t.timer == nil {
		t.timer = time.AfterFunc(d, func() { s.step(t) })
	} else {
		t.timer.Reset(d)
	}
}

// finish ends t. Caller holds s.mu.
func (s *Simulator) finish(t *txn, out outcome, sig []byte) {
	if t.state.final() {
		return
	}
	switch {
	case out.signed():
		t.state = StateSigned
	case out == outCancel:
		t.state = StateCancelled
	case out == outTimeout:
		t.state = StateExpired
	default:
		t.state = StateFailed
	}
	t.result, t.sig, t.finished = out, sig, time.Now()
	if t.sim != nil {
		if t.sim.pending == t {
			t.sim.pending = nil
		}
		t.sim.last = out.String()
	}
	if t.done != nil {
		close(t.done)
		t.done = nil
	}
	if t.poller != nil {
		t.poller = nil
	}
	s.log.Info("transaction finished", "id", t.id, "state", t.state, "result", out.String())
	if !s.closed {
		s.arm(t, s.d(retention))
	}
}

// step runs when t's timer fires.
func (s *Simulator) step(t *txn) {
	s.mu.Lock()
	now := time.Now()
	if s.closed || now.Before(t.next) {
		s.mu.Unlock()
		return
	}
	switch {
	case t.state.final():
		delete(s.txns, t.id)
		if t.face == FaceETSI {
			s.gone[t.id] = tomb{caller: t.caller, until: now.Add(s.d(apTransWindow))}
			s.prune(now)
		}
		s.mu.Unlock()
		return
	case !now.Before(t.deadline):
		s.finish(t, outTimeout, nil)
		s.mu.Unlock()
		return
	case t.state == StateDelivering:
		switch t.sim.Behaviour {
		case PhoneAbsent:
			s.finish(t, outPhoneAbsent, nil)
		case DeliveryError:
			s.finish(t, outDelivery, nil)
		default:
			// The SIM refuses at once when the PUK or the PIN it needs is blocked.
			if t.sim.puk == 0 {
				s.finish(t, outPUKBlocked, nil)
				break
			}
			if (t.auth && t.sim.pin1 == 0) || (!t.auth && t.sim.pin2 == 0) {
				s.finish(t, outPINBlocked, nil)
				break
			}
			t.state = StateAwaiting
			switch t.sim.Behaviour {
			case Manual, NoAnswer:
				s.arm(t, t.deadline.Sub(now))
			case AnswerOKSlow:
				s.arm(t, s.d(slowAnswerDelay))
			case WrongPINThenOK:
				if t.face == FaceMID {
					s.arm(t, s.d(wrongPINDelay))
				} else {
					s.arm(t, s.d(answerDelay))
				}
			default:
				s.arm(t, s.d(answerDelay))
			}
		}
		s.mu.Unlock()
		return
	}
	// Awaiting the user: the scripted answer.
	sm := t.sim
	out := outOK
	switch sm.Behaviour {
	case Manual, NoAnswer:
		s.arm(t, t.deadline.Sub(now))
		s.mu.Unlock()
		return
	case AnswerCancel, CodeMismatch:
		out = outCancel
	case SIMError:
		out = outSIMError
	case BadSignature:
		out = outBadSignature
	case PINBlocked:
		out = outPINBlocked
	case PUKBlocked:
		out = outPUKBlocked
	case CertRevoked:
		out = outRevoked
	case WrongPINThenOK:
		if t.face == FaceETSI {
			sm.attempts++
			if sm.attempts%3 != 0 {
				sm.pin2--
				out = outWrongPIN
			} else {
				sm.pin2 = pinTries
			}
		}
	}
	s.mu.Unlock()
	if out.signed() {
		s.signAndFinish(t, out)
		return
	}
	s.mu.Lock()
	s.finish(t, out, nil)
	s.mu.Unlock()
}

// prune drops expired tombstones and AP_TransIDs, now and then. Caller holds s.mu.
func (s *Simulator) prune(now time.Time) {
	if len(s.gone)%256 != 0 && len(s.apTrans)%256 != 0 {
		return
	}
	for k, v := range s.gone {
		if now.After(v.until) {
			delete(s.gone, k)
		}
	}
	for k, v := range s.apTrans {
		if now.After(v) {
			delete(s.apTrans, k)
		}
	}
}

// signAndFinish makes the SIM's signature (outside the lock) and ends t.
func (s *Simulator) signAndFinish(t *txn, out outcome) {
	sig, err := s.signTxn(t, out == outBadSignature)
	if err != nil {
		s.log.Error("SIM signature failed", "id", t.id, "err", err)
		out, sig = outSIMError, nil
	}
	s.mu.Lock()
	s.finish(t, out, sig)
	s.mu.Unlock()
}

// signTxn is what the SIM (and, for PKCS#7, the MSSP around it) computes.
func (s *Simulator) signTxn(t *txn, corrupt bool) ([]byte, error) {
	k, err := s.keysOf(t.sim)
	if err != nil {
		return nil, err
	}
	ent := k.sign
	if t.auth {
		ent = k.auth
	}
	simSign := func(digest []byte) ([]byte, error) {
		if corrupt {
			digest = append([]byte(nil), digest...)
			digest[0] ^= 0xff
		}
		return rawSign(ent.Key, t.hash, digest)
	}
	if t.pkcs7 {
		return buildCMS(ent.Cert, ent.Chain, t.hash, t.digest, t.text, time.Now(), simSign)
	}
	return simSign(t.digest)
}

// rawSign signs a digest the way a SIM does: PKCS#1 v1.5 over DigestInfo
// for RSA, ASN.1 ECDSA (the faces re-encode as needed).
func rawSign(key crypto.Signer, h crypto.Hash, digest []byte) ([]byte, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return rsa.SignPKCS1v15(nil, k, h, digest)
	case *ecdsa.PrivateKey:
		return ecdsa.SignASN1(rand.Reader, k, digest)
	}
	return nil, fmt.Errorf("mobileid: unsupported SIM key %T", key)
}

// phoneCode is the verification code the phone displays for t.
func (t *txn) phoneCode() string {
	d := t.digest
	if t.sim != nil && t.sim.Behaviour == CodeMismatch && len(d) > 0 {
		d = append([]byte(nil), d...)
		d[0] ^= 0x80
	}
	return VerificationCode(d)
}

// find returns the transaction id, or nil.
func (s *Simulator) find(id string) *txn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.txns[id]
}

// wait blocks until t is final, d passes, ctx ends or (poll) a newer poll
// supersedes this one.
func (s *Simulator) wait(ctx context.Context, t *txn, d time.Duration, poll bool) {
	s.mu.Lock()
	if t.state.final() {
		s.mu.Unlock()
		return
	}
	if t.done == nil {
		t.done = make(chan struct{})
	}
	done := t.done
	var mine chan struct{}
	if poll {
		if t.poller != nil {
			close(t.poller)
		}
		mine = make(chan struct{})
		t.poller = mine
	}
	s.mu.Unlock()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
	case <-mine:
	case <-timer.C:
	case <-ctx.Done():
	}
	if poll {
		s.mu.Lock()
		if t.poller == mine {
			t.poller = nil
		}
		s.mu.Unlock()
	}
}

// view is a consistent copy of what a face reports about t.
type view struct {
	state  State
	result outcome
	sig    []byte
	keys   *simKeys
}

func (s *Simulator) view(t *txn) view {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := view{state: t.state, result: t.result, sig: t.sig}
	if t.sim != nil {
		v.keys = t.sim.keys
	}
	return v
}

// textDigest is the digest a text DTBS stands for.
func textDigest(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
