package mpower

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/semnat/semnat/idn"
	"github.com/semnat/semnat/store"
)

// Errors callers test with errors.Is.
var (
	ErrNotFound    = errors.New("mpower: not found")
	ErrExists      = errors.New("mpower: already exists")
	ErrWrongSigner = errors.New("mpower: the act is not signed by the party who must sign it")
	// ErrWrongDocument: a signed PDF that is not the power's act.
	ErrWrongDocument = errors.New("mpower: not the power's act")
)

// schema: the registry's tables (times are Unix nanoseconds). The indexes
// serve the check API: a code; each party (grantor, representative,
// signer) in the list's order with the columns its filters read, so that
// counting a party's powers reads the index only and a page reads one
// range of it from its end (List); a type with its parties. The first
// party indexes (party, created) are replaced by the wider ones.
var schema = store.Schema{Name: "mpower", SQLite: `
CREATE TABLE IF NOT EXISTS mpower_types (
	code TEXT PRIMARY KEY, system TEXT NOT NULL, provider_idno TEXT NOT NULL, provider_name TEXT NOT NULL,
	needs_acceptance INTEGER NOT NULL, needs_cosigner INTEGER NOT NULL, max_days INTEGER NOT NULL,
	texts BLOB NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS mpower_entities (
	idno TEXT PRIMARY KEY, name TEXT NOT NULL, form TEXT NOT NULL, admins BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS mpower_powers (
	code TEXT PRIMARY KEY, type_code TEXT NOT NULL REFERENCES mpower_types (code),
	authorizing_type INTEGER NOT NULL, authorizing_idn TEXT NOT NULL, signed_by TEXT NOT NULL,
	authorized_idn TEXT NOT NULL, from_at INTEGER NOT NULL, to_at INTEGER NOT NULL,
	state TEXT NOT NULL, reason TEXT NOT NULL, changed INTEGER NOT NULL, created INTEGER NOT NULL,
	lang TEXT NOT NULL, needs_acceptance INTEGER NOT NULL);
DROP INDEX IF EXISTS mpower_powers_by;
DROP INDEX IF EXISTS mpower_powers_to;
CREATE INDEX IF NOT EXISTS mpower_powers_by2 ON mpower_powers (authorizing_idn, created, code, type_code, state, from_at, to_at);
CREATE INDEX IF NOT EXISTS mpower_powers_to2 ON mpower_powers (authorized_idn, created, code, type_code, state, from_at, to_at);
CREATE INDEX IF NOT EXISTS mpower_powers_signer ON mpower_powers (signed_by, created, code, type_code, state, from_at, to_at);
CREATE INDEX IF NOT EXISTS mpower_powers_created ON mpower_powers (created, code);
CREATE INDEX IF NOT EXISTS mpower_powers_type ON mpower_powers (type_code, authorizing_idn, authorized_idn);
CREATE TABLE IF NOT EXISTS mpower_drafts (
	code TEXT PRIMARY KEY REFERENCES mpower_powers (code), pdf BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS mpower_acts (
	code TEXT NOT NULL REFERENCES mpower_powers (code), seq INTEGER NOT NULL, event TEXT NOT NULL,
	signer TEXT NOT NULL, signed_at INTEGER NOT NULL, pdf BLOB NOT NULL, digest TEXT NOT NULL,
	PRIMARY KEY (code, seq));
`}

func init() {
	pg := strings.NewReplacer(" BLOB ", " BYTEA ", " INTEGER ", " BIGINT ").Replace(schema.SQLite)
	schema.Postgres = pg
}

// Act is a signed act (grant, acceptance, revocation, renunciation) as
// its verifier found it.
type Act struct {
	Signer   string    // the signer's IDNP, from the certificate
	SignedAt time.Time // the best signature time (the timestamp's)
}

// ActVerifier verifies a signed act: signed must be base (the power's
// document before this signature) extended by the new signature, which
// must verify (chain, revocation); it returns an error wrapping
// ErrWrongDocument or ErrInvalid otherwise. PAdES is the registry's
// (PadesVerifier).
type ActVerifier interface {
	VerifyAct(ctx context.Context, base, signed []byte) (*Act, error)
}

// Registry is the register of powers, types and legal entities in a store.
// Every change is one transaction with its audit event.
type Registry struct {
	st     *store.Store
	verify ActVerifier
	// types caches the authorization types by code: a type is never
	// changed or removed once added, so every instance may keep it.
	types sync.Map
	// changed, when set, is called in the transaction of each transition
	// (the power as changed, the event, its audit entry's number): the
	// service enqueues its notices there.
	changed func(ctx context.Context, tx *store.Tx, p *Power, ev Event, seq int64) error
	// cache keeps the powers the check API reads (powercache.go).
	cache *powerCache
}

// NewRegistry opens the registry in st (creating its tables).
func NewRegistry(ctx context.Context, st *store.Store, v ActVerifier) (*Registry, error) {
	if st == nil {
		return nil, errors.New("mpower: a store is required")
	}
	if err := st.CreateSchema(ctx, schema); err != nil {
		return nil, err
	}
	if err := st.CreateSchema(ctx, historySchema); err != nil {
		return nil, err
	}
	if err := st.CreateSchema(ctx, versionSchema); err != nil {
		return nil, err
	}
	return &Registry{st: st, verify: v, cache: newPowerCache(st)}, nil
}

// Close gives back what the registry holds open (its power cache's
// connection); the store stays open.
func (r *Registry) Close() error { return r.cache.close() }

// Now is the registry's clock (the store's).
func (r *Registry) Now() time.Time { return r.st.Now() }

type typeTexts struct {
	Names     map[string]string `json:"names"`
	LegalText map[string]string `json:"legalText"`
}

// AddType defines an authorization type (ErrExists when its code is taken).
func (r *Registry) AddType(ctx context.Context, actor string, t AuthType) error {
	if err := t.Check(); err != nil {
		return err
	}
	texts, err := json.Marshal(typeTexts{Names: t.Names, LegalText: t.LegalText})
	if err != nil {
		return err
	}
	return r.st.InTx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO mpower_types (code, system, provider_idno, provider_name, needs_acceptance, needs_cosigner, max_days, texts, created)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.Code, t.System, t.ProviderIDNO, t.ProviderName, b2i(t.NeedsAcceptance), b2i(t.NeedsCoSigner), t.MaxDays, texts, r.Now().UnixNano())
		if store.IsUniqueViolation(err) {
			return fmt.Errorf("%w: authorization type %s", ErrExists, t.Code)
		}
		if err != nil {
			return fmt.Errorf("mpower: adding type %s: %w", t.Code, err)
		}
		_, err = tx.Append(ctx, store.Event{Actor: actor, Action: "mpower-type-add", Subject: t.Code,
			Details: map[string]string{"system": t.System, "provider": t.ProviderIDNO}})
		return err
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

const typeColumns = `code, system, provider_idno, provider_name, needs_acceptance, needs_cosigner, max_days, texts, created`

func scanType(sc interface{ Scan(...any) error }) (*AuthType, error) {
	var t AuthType
	var na, nc int
	var texts []byte
	var created int64
	if err := sc.Scan(&t.Code, &t.System, &t.ProviderIDNO, &t.ProviderName, &na, &nc, &t.MaxDays, &texts, &created); err != nil {
		return nil, err
	}
	var tt typeTexts
	if err := json.Unmarshal(texts, &tt); err != nil {
		return nil, fmt.Errorf("mpower: type %s: %w", t.Code, err)
	}
	t.Names, t.LegalText, t.NeedsAcceptance, t.NeedsCoSigner, t.Created = tt.Names, tt.LegalText, na != 0, nc != 0, time.Unix(0, created).UTC()
	return &t, nil
}

// Type is the authorization type of code (shared: do not change it).
func (r *Registry) Type(ctx context.Context, code string) (*AuthType, error) {
	if t, ok := r.types.Load(code); ok {
		return t.(*AuthType), nil
	}
	t, err := scanType(r.st.QueryRow(ctx, `SELECT `+typeColumns+` FROM mpower_types WHERE code = ?`, code))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: authorization type %s", ErrNotFound, code)
	}
	if err != nil {
		return nil, err
	}
	r.types.Store(code, t)
	return t, nil
}

// Types lists the authorization types by code.
func (r *Registry) Types(ctx context.Context) ([]AuthType, error) {
	rows, err := r.st.Query(ctx, `SELECT `+typeColumns+` FROM mpower_types ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("mpower: types: %w", err)
	}
	defer rows.Close()
	var out []AuthType
	for rows.Next() {
		t, err := scanType(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// PutEntity adds or replaces a legal entity of the register.
func (r *Registry) PutEntity(ctx context.Context, actor string, e Entity) error {
	return r.PutEntities(ctx, actor, []Entity{e})
}

// PutEntities adds or replaces legal entities, all or none, in one
// transaction with an audit event for each.
func (r *Registry) PutEntities(ctx context.Context, actor string, list []Entity) error {
	admins := make([][]byte, len(list))
	for i, e := range list {
		if err := e.check(); err != nil {
			return err
		}
		var err error
		if admins[i], err = json.Marshal(e.Administrators); err != nil {
			return err
		}
	}
	return r.st.InTx(ctx, func(tx *store.Tx) error {
		for i, e := range list {
			if _, err := tx.Exec(ctx, `INSERT INTO mpower_entities (idno, name, form, admins) VALUES (?, ?, ?, ?)
				ON CONFLICT (idno) DO UPDATE SET name = excluded.name, form = excluded.form, admins = excluded.admins`,
				e.IDNO, e.Name, e.Form, admins[i]); err != nil {
				return fmt.Errorf("mpower: entity %s: %w", e.IDNO, err)
			}
			if _, err := tx.Append(ctx, store.Event{Actor: actor, Action: "mpower-entity-put", Subject: e.IDNO,
				Details: map[string]string{"administrators": fmt.Sprint(len(e.Administrators))}}); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *Entity) check() error {
	if idn.KindOf(e.IDNO) != idn.Entity {
		return fmt.Errorf("%w: IDNO %q is not a valid IDNO", ErrInvalid, e.IDNO)
	}
	if strings.TrimSpace(e.Name) == "" {
		return fmt.Errorf("%w: entity %s has no name", ErrInvalid, e.IDNO)
	}
	for _, a := range e.Administrators {
		if idn.KindOf(a.IDNP) != idn.Person {
			return fmt.Errorf("%w: entity %s: administrator %q is not a valid IDNP", ErrInvalid, e.IDNO, a.IDNP)
		}
		if a.From.IsZero() || !a.To.IsZero() && !a.To.After(a.From) {
			return fmt.Errorf("%w: entity %s: administrator %s: give a start date before the end date", ErrInvalid, e.IDNO, a.IDNP)
		}
	}
	return nil
}

func scanEntity(sc interface{ Scan(...any) error }) (*Entity, error) {
	var e Entity
	var admins []byte
	if err := sc.Scan(&e.IDNO, &e.Name, &e.Form, &admins); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(admins, &e.Administrators); err != nil {
		return nil, fmt.Errorf("mpower: entity %s: %w", e.IDNO, err)
	}
	return &e, nil
}

// Entity is the legal entity of idno.
func (r *Registry) Entity(ctx context.Context, idno string) (*Entity, error) {
	e, err := scanEntity(r.st.QueryRow(ctx, `SELECT idno, name, form, admins FROM mpower_entities WHERE idno = ?`, idno))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no legal entity %s in the register", ErrNotFound, idno)
	}
	return e, err
}

// Entities lists the register by IDNO.
func (r *Registry) Entities(ctx context.Context) ([]Entity, error) {
	rows, err := r.st.Query(ctx, `SELECT idno, name, form, admins FROM mpower_entities ORDER BY idno`)
	if err != nil {
		return nil, fmt.Errorf("mpower: entities: %w", err)
	}
	defer rows.Close()
	var out []Entity
	for rows.Next() {
		e, err := scanEntity(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, rows.Err()
}

// GrantRequest is a new power, before its act is signed.
type GrantRequest struct {
	TypeCode      string
	AuthorizingID string // IDNP, or IDNO of a company
	SignedBy      string // the person who signs: AuthorizingID, or an administrator of the company
	RepresentedID string // IDNP
	From, To      time.Time
	Lang          string // of the legal text (ro by default)
}

// Grant creates a Draft power; it becomes more once its act is signed
// (Transition EvSign).
func (r *Registry) Grant(ctx context.Context, actor string, g GrantRequest) (*Power, error) {
	t, err := r.Type(ctx, g.TypeCode)
	if err != nil {
		return nil, err
	}
	now := r.Now()
	entityName := ""
	p := &Power{TypeCode: t.Code, AuthorizingID: g.AuthorizingID, SignedBy: g.SignedBy, RepresentedID: g.RepresentedID,
		From: g.From.UTC(), To: g.To.UTC(), State: Draft, Changed: now, Created: now, Lang: g.Lang, NeedsAcceptance: t.NeedsAcceptance}
	if p.Lang == "" {
		p.Lang = "ro"
	}
	switch idn.KindOf(g.AuthorizingID) {
	case idn.Person:
		p.AuthorizingBy = Natural
		if p.SignedBy == "" {
			p.SignedBy = g.AuthorizingID
		}
		if p.SignedBy != g.AuthorizingID {
			return nil, fmt.Errorf("%w: a person grants for themself: the signer must be %s", ErrInvalid, g.AuthorizingID)
		}
	case idn.Entity:
		p.AuthorizingBy = Legal
		e, err := r.Entity(ctx, g.AuthorizingID)
		if err != nil {
			return nil, err
		}
		entityName = strings.TrimSpace(e.Name + " " + e.Form)
		if !e.AdministeredBy(g.SignedBy, now) {
			return nil, fmt.Errorf("%w: %s is not an administrator in office of %s (%s)", ErrWrongSigner, g.SignedBy, e.IDNO, e.Name)
		}
	default:
		return nil, fmt.Errorf("%w: authorizing party %q: want a valid IDNP or IDNO", ErrInvalid, g.AuthorizingID)
	}
	switch {
	case idn.KindOf(g.RepresentedID) != idn.Person:
		return nil, fmt.Errorf("%w: representative %q: want a valid IDNP", ErrInvalid, g.RepresentedID)
	case g.RepresentedID == g.AuthorizingID || g.RepresentedID == p.SignedBy && p.AuthorizingBy == Natural:
		return nil, fmt.Errorf("%w: a person cannot represent themself", ErrInvalid)
	case !knownLang(p.Lang):
		return nil, fmt.Errorf("%w: language %q: want ro, ru or en", ErrInvalid, p.Lang)
	case g.From.IsZero() || g.To.IsZero() || !g.To.After(g.From):
		return nil, fmt.Errorf("%w: give a start date before the end date", ErrInvalid)
	case g.To.Sub(g.From) > time.Duration(t.MaxDays)*24*time.Hour:
		return nil, fmt.Errorf("%w: type %s lasts at most %d days; %s to %s is longer", ErrInvalid, t.Code, t.MaxDays, g.From.Format(time.DateOnly), g.To.Format(time.DateOnly))
	case !g.To.After(now):
		return nil, fmt.Errorf("%w: the end date %s has passed", ErrInvalid, g.To.Format(time.DateOnly))
	}
	for try := 0; ; try++ {
		if p.Code, err = idn.NewAuthCode(); err != nil {
			return nil, err
		}
		draft, err := RenderAct(t, p, entityName)
		if err != nil {
			return nil, err
		}
		err = r.st.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO mpower_powers (`+powerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, powerArgs(p)...); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO mpower_drafts (code, pdf) VALUES (?, ?)`, p.Code, draft); err != nil {
				return err
			}
			if err := bumpVersion(ctx, tx); err != nil {
				return err
			}
			if err := addHistory(ctx, tx, p, EvGrant, actor); err != nil {
				return err
			}
			_, err := tx.Append(ctx, store.Event{Actor: actor, Action: "mpower-grant", Subject: p.Code,
				Details: map[string]string{"type": p.TypeCode, "by": p.AuthorizingID, "signer": p.SignedBy, "to": p.RepresentedID,
					"from": p.From.Format(time.RFC3339), "until": p.To.Format(time.RFC3339)}})
			return err
		})
		if store.IsUniqueViolation(err) && try < 3 { // a code drawn twice: draw again
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("mpower: granting: %w", err)
		}
		return p, nil
	}
}

const powerColumns = `code, type_code, authorizing_type, authorizing_idn, signed_by, authorized_idn, from_at, to_at, state, reason, changed, created, lang, needs_acceptance`

func powerArgs(p *Power) []any {
	return []any{p.Code, p.TypeCode, int(p.AuthorizingBy), p.AuthorizingID, p.SignedBy, p.RepresentedID, p.From.UnixNano(), p.To.UnixNano(),
		string(p.State), p.Reason, p.Changed.UnixNano(), p.Created.UnixNano(), p.Lang, b2i(p.NeedsAcceptance)}
}

func scanPower(sc interface{ Scan(...any) error }) (*Power, error) {
	var p Power
	var by, na int
	var from, to, changed, created int64
	var state string
	if err := sc.Scan(&p.Code, &p.TypeCode, &by, &p.AuthorizingID, &p.SignedBy, &p.RepresentedID, &from, &to, &state, &p.Reason, &changed, &created, &p.Lang, &na); err != nil {
		return nil, err
	}
	p.AuthorizingBy, p.State, p.NeedsAcceptance = PartyType(by), State(state), na != 0
	p.From, p.To, p.Changed, p.Created = time.Unix(0, from).UTC(), time.Unix(0, to).UTC(), time.Unix(0, changed).UTC(), time.Unix(0, created).UTC()
	return &p, nil
}

// Power is the power of code (ErrNotFound).
func (r *Registry) Power(ctx context.Context, code string) (*Power, error) {
	p, err := scanPower(r.st.QueryRow(ctx, `SELECT `+powerColumns+` FROM mpower_powers WHERE code = ?`, code))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, noPower(code)
	}
	if err != nil {
		return nil, fmt.Errorf("mpower: power %s: %w", code, err)
	}
	return p, nil
}

// PowerNow is Power for a question about the power at this moment (the
// check API): from the registry's cache when no power has changed since
// it was read (powercache.go).
func (r *Registry) PowerNow(ctx context.Context, code string) (*Power, error) {
	p, err := r.cache.power(ctx, code, r.Power)
	if err != nil {
		return nil, err
	}
	cp := *p // the cache's own stays as read
	return &cp, nil
}

// PowerUnder is PowerNow without reading the change counter first: the
// power as of the counter value gen, which an answer from it must be
// audited under (Service.auditUnder: the audit transaction checks that no
// power changed since, and the answer is given again when one did). gen
// is -1 without a cache: p is then as read now.
func (r *Registry) PowerUnder(ctx context.Context, code string) (p *Power, gen int64, err error) {
	if r.cache == nil {
		p, err = r.Power(ctx, code)
		return p, -1, err
	}
	if p, gen, err = r.cache.powerUnder(ctx, code, r.Power); err != nil {
		return nil, gen, err // ErrNotFound: as of gen too
	}
	cp := *p
	return &cp, gen, nil
}

// maxCandidates bounds the powers of one type between two parties that
// ValidBetween keeps in the cache (more: read each time).
const maxCandidates = 100

// ValidBetween is the newest power of type typ from by to to that is
// valid now, or nil (TypeCode-Valid-One), and the change counter's value
// it was read under as PowerUnder's (fresh: the counter read first; -1:
// no cache, read now). The cache keeps the candidates (the started powers
// between them), never the answer: validity is evaluated now.
func (r *Registry) ValidBetween(ctx context.Context, typ, by, to string, fresh bool) (*Power, int64, error) {
	pick := func(list []Power) *Power {
		now := r.Now()
		for i := range list {
			if list[i].ValidAt(now) {
				p := list[i]
				return &p
			}
		}
		return nil
	}
	var gen int64 = -1
	var err error
	if r.cache != nil {
		gen, err = r.cache.genUnder(ctx, fresh)
	}
	if r.cache == nil || errors.Is(err, errCacheClosed) {
		list, _, err := r.List(ctx, Filter{TypeCode: typ, GrantedBy: by, GrantedTo: to, State: Valid, PageSize: 1})
		if err != nil {
			return nil, -1, err
		}
		return pick(list), -1, nil
	}
	if err != nil {
		return nil, 0, err
	}
	list, err := r.cache.set(ctx, gen, "between\x00"+typ+"\x00"+by+"\x00"+to, func(ctx context.Context) ([]Power, bool, error) {
		var list []Power
		err := r.scanPowers(ctx, `SELECT `+powerColumns+` FROM mpower_powers WHERE type_code = ? AND authorizing_idn = ? AND authorized_idn = ?
			AND state IN ('valid', 'pending-validity') ORDER BY created DESC, code DESC LIMIT ?`,
			[]any{typ, by, to, maxCandidates + 1}, func(p *Power) { list = append(list, *p) })
		return list, len(list) <= maxCandidates, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("mpower: the powers of %s from %s to %s: %w", typ, by, to, err)
	}
	if len(list) > maxCandidates { // not all read: the database answers
		l, _, err := r.List(ctx, Filter{TypeCode: typ, GrantedBy: by, GrantedTo: to, State: Valid, PageSize: 1})
		if err != nil {
			return nil, 0, err
		}
		list = l
	}
	if fresh { // the counter was read after the question came: no guard needed
		gen = -1
	}
	return pick(list), gen, nil
}

// actions name the audit events of the transitions.
var actions = map[Event]string{EvSign: "mpower-sign", EvAccept: "mpower-accept", EvDecline: "mpower-decline", EvRevoke: "mpower-revoke",
	EvRenounce: "mpower-renounce", EvSuspend: "mpower-suspend", EvResume: "mpower-resume"}

// signedEvents need a signed act, and whose signature it must be.
var signedEvents = map[Event]string{EvSign: "authorizing", EvAccept: "representative", EvDecline: "representative", EvRevoke: "authorizing", EvRenounce: "representative"}

// Transition applies ev to the power of code, as actor, in one
// transaction with its audit event: the power is read and locked, the
// state machine decides (a *TransitionError when the event does not apply
// to the state it is in, which is how the loser of a race between two
// changes hears of it), and the new state, the act and the event are
// written together. Sign, accept, revoke and renounce need their act, a
// PDF signed by the right person (ErrWrongSigner otherwise).
func (r *Registry) Transition(ctx context.Context, actor, code string, ev Event, pdf []byte) (*Power, error) {
	if _, ok := actions[ev]; !ok {
		return nil, fmt.Errorf("%w: event %q", ErrInvalid, ev)
	}
	var act *Act
	var base []byte
	if who, ok := signedEvents[ev]; ok {
		if len(pdf) == 0 {
			return nil, fmt.Errorf("%w: to be %s the power needs its act signed by the %s party", ErrInvalid, pastTense[ev], who)
		}
		if r.verify == nil {
			return nil, errors.New("mpower: no act verifier is configured")
		}
		var err error
		if base, err = r.Document(ctx, code); err != nil {
			return nil, err
		}
		if act, err = r.verify.VerifyAct(ctx, base, pdf); err != nil {
			return nil, err
		}
	}
	var out *Power
	err := r.st.InTx(ctx, func(tx *store.Tx) error {
		p, err := scanPower(tx.QueryRowForUpdate(ctx, `SELECT `+powerColumns+` FROM mpower_powers WHERE code = ?`, code))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: no power %s", ErrNotFound, code)
		}
		if err != nil {
			return fmt.Errorf("mpower: power %s: %w", code, err)
		}
		if act != nil {
			if err := r.checkSigner(ctx, p, ev, act); err != nil {
				return err
			}
			cur, err := r.document(ctx, tx, code)
			if err != nil {
				return err
			}
			if !bytes.Equal(cur, base) { // another act was applied since
				return fmt.Errorf("%w: the power's act changed while this signature was verified: sign the document of GET .../document again", ErrWrongDocument)
			}
		}
		from := p.State
		now := r.Now()
		if err := p.Apply(ev, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE mpower_powers SET state = ?, reason = ?, changed = ? WHERE code = ?`, string(p.State), p.Reason, p.Changed.UnixNano(), p.Code); err != nil {
			return fmt.Errorf("mpower: power %s: %w", code, err)
		}
		if err := bumpVersion(ctx, tx); err != nil {
			return err
		}
		details := map[string]string{"from": string(from), "to": string(p.State)}
		digest := ""
		if act != nil {
			d := sha256.Sum256(pdf)
			digest = hex.EncodeToString(d[:])
			details["signer"] = act.Signer
			if _, err := tx.Exec(ctx, `INSERT INTO mpower_acts (code, seq, event, signer, signed_at, pdf, digest)
				VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM mpower_acts WHERE code = ?), ?, ?, ?, ?, ?)`,
				p.Code, p.Code, string(ev), act.Signer, act.SignedAt.UnixNano(), pdf, digest); err != nil {
				return fmt.Errorf("mpower: power %s: keeping the act: %w", code, err)
			}
		}
		if err := addHistory(ctx, tx, p, ev, actor); err != nil {
			return err
		}
		ent, err := tx.Append(ctx, store.Event{Actor: actor, Action: actions[ev], Subject: p.Code, Digest: digest, Details: details})
		if err != nil {
			return err
		}
		if r.changed != nil {
			if err := r.changed(ctx, tx, p, ev, ent.Seq); err != nil {
				return err
			}
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// document is what the next signature of the power of code is put on:
// its latest signed act, or the draft before any.
func (r *Registry) document(ctx context.Context, tx *store.Tx, code string) ([]byte, error) {
	var doc []byte
	err := tx.QueryRow(ctx, `SELECT pdf FROM mpower_acts WHERE code = ? ORDER BY seq DESC LIMIT 1`, code).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRow(ctx, `SELECT pdf FROM mpower_drafts WHERE code = ?`, code).Scan(&doc)
	}
	if err != nil {
		return nil, fmt.Errorf("mpower: the act of %s: %w", code, err)
	}
	return doc, nil
}

// Document is the PDF the next signature of the power of code goes on:
// the draft act, or the latest signed one.
func (r *Registry) Document(ctx context.Context, code string) ([]byte, error) {
	var doc []byte
	err := r.st.InTx(ctx, func(tx *store.Tx) error {
		var err error
		doc, err = r.document(ctx, tx, code)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: no power %s", ErrNotFound, code)
	}
	return doc, err
}

// checkSigner: the act of ev is signed by the one who must sign it.
func (r *Registry) checkSigner(ctx context.Context, p *Power, ev Event, act *Act) error {
	switch signedEvents[ev] {
	case "representative":
		if act.Signer != p.RepresentedID {
			return fmt.Errorf("%w: the act is signed by %s, not by the representative %s", ErrWrongSigner, orUnknown(act.Signer), p.RepresentedID)
		}
		return nil
	}
	if p.AuthorizingBy == Natural {
		if act.Signer != p.AuthorizingID {
			return fmt.Errorf("%w: the act is signed by %s, not by the authorizing person %s", ErrWrongSigner, orUnknown(act.Signer), p.AuthorizingID)
		}
		return nil
	}
	e, err := r.Entity(ctx, p.AuthorizingID)
	if err != nil {
		return err
	}
	if !e.AdministeredBy(act.Signer, act.SignedAt) {
		return fmt.Errorf("%w: the act is signed by %s, who was not an administrator in office of %s on %s", ErrWrongSigner,
			orUnknown(act.Signer), e.IDNO, act.SignedAt.Format(time.DateOnly))
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "a certificate without an IDNP"
	}
	return s
}

// SignedAct is a stored act of a power.
type SignedAct struct {
	Event    Event
	Signer   string
	SignedAt time.Time
	PDF      []byte
}

// LastAct is the latest signed act of the power of code (ErrNotFound when
// it has none): the PDF bearing every signature so far.
func (r *Registry) LastAct(ctx context.Context, code string) (*SignedAct, error) {
	var a SignedAct
	var ev string
	var at int64
	err := r.st.QueryRow(ctx, `SELECT event, signer, signed_at, pdf FROM mpower_acts WHERE code = ? ORDER BY seq DESC LIMIT 1`, code).Scan(&ev, &a.Signer, &at, &a.PDF)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: power %s has no signed act", ErrNotFound, code)
	}
	if err != nil {
		return nil, fmt.Errorf("mpower: act of %s: %w", code, err)
	}
	a.Event, a.SignedAt = Event(ev), time.Unix(0, at).UTC()
	return &a, nil
}
