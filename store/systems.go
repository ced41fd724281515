package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// System is an information system registered with a service (MSign, and
// later MPay, MNotify, ...), as AGE registers them: it is known by its TLS
// client certificate (issuer and serial number) or by an API key, of which
// only the SHA-256 is kept.
type System struct {
	Service string // the service it is registered with: "msign"
	Name    string // unique within the service
	// CertIssuer is the DER issuer name of its TLS client certificate,
	// CertSerial its serial number and Cert the certificate itself (DER);
	// all nil without one.
	CertIssuer []byte
	CertSerial *big.Int
	Cert       []byte
	// KeyDigest is the SHA-256 of its API key (nil without one).
	KeyDigest []byte
	// Settings are the service's own settings for it (JSON: return URLs,
	// ...); the store does not read them.
	Settings []byte
	Created  time.Time
}

const systemColumns = `service, name, cert_issuer, cert_serial, cert, key_digest, settings, created`

// AddSystem registers sys (Created is set to now). ErrExists when the
// name, the certificate (issuer and serial) or the key digest is taken.
func (s *Store) AddSystem(ctx context.Context, sys System) error {
	if sys.Service == "" || sys.Name == "" {
		return errors.New("store: a system needs a service and a name")
	}
	if sys.CertSerial == nil && sys.KeyDigest == nil {
		return fmt.Errorf("store: system %s has neither a certificate nor an API key", sys.Name)
	}
	if sys.Settings == nil {
		sys.Settings = []byte("{}")
	}
	var serial any
	if sys.CertSerial != nil {
		serial = sys.CertSerial.Text(16)
	}
	_, err := s.exec(ctx, `INSERT INTO systems (`+systemColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		sys.Service, sys.Name, nullBytes(sys.CertIssuer), serial, nullBytes(sys.Cert), nullBytes(sys.KeyDigest), sys.Settings, s.now().UnixNano())
	if err != nil {
		if isUniqueViolation(err) {
			return fmt.Errorf("%w: %s: the name %q, its certificate or its API key is in use (list them with `semnat msign systems list`)", ErrExists, sys.Service, sys.Name)
		}
		return fmt.Errorf("store: adding system %s/%s: %w", sys.Service, sys.Name, err)
	}
	return nil
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// isUniqueViolation tells a broken UNIQUE or PRIMARY KEY constraint:
// PostgreSQL's SQLSTATE 23505 (pgx), SQLite's extended result codes
// (modernc.org/sqlite).
func isUniqueViolation(err error) bool {
	var sc interface{ SQLState() string }
	if errors.As(err, &sc) {
		return sc.SQLState() == "23505"
	}
	var code interface{ Code() int }
	if errors.As(err, &code) {
		return code.Code() == 2067 || code.Code() == 1555 // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
	}
	return false
}

// System returns the system name of service, or ErrNotFound.
func (s *Store) System(ctx context.Context, service, name string) (*System, error) {
	return s.systemWhere(ctx, `service = ? AND name = ?`, service, name)
}

// SystemByCert returns the system of service whose certificate has this
// issuer (DER) and serial number, or ErrNotFound.
func (s *Store) SystemByCert(ctx context.Context, service string, issuer []byte, serial *big.Int) (*System, error) {
	return s.systemWhere(ctx, `service = ? AND cert_issuer = ? AND cert_serial = ?`, service, issuer, serial.Text(16))
}

// SystemByKey returns the system of service whose API key has this
// SHA-256, or ErrNotFound.
func (s *Store) SystemByKey(ctx context.Context, service string, digest []byte) (*System, error) {
	return s.systemWhere(ctx, `service = ? AND key_digest = ?`, service, digest)
}

func (s *Store) systemWhere(ctx context.Context, where string, args ...any) (*System, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT `+systemColumns+` FROM systems WHERE `+where), args...)
	if err != nil {
		return nil, fmt.Errorf("store: looking up a system: %w", err)
	}
	list, err := scanSystems(rows)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: system", ErrNotFound)
	}
	return &list[0], nil
}

// Systems lists the systems of service by name.
func (s *Store) Systems(ctx context.Context, service string) ([]System, error) {
	rows, err := s.db.QueryContext(ctx, s.d.rebind(`SELECT `+systemColumns+` FROM systems WHERE service = ? ORDER BY name`), service)
	if err != nil {
		return nil, fmt.Errorf("store: listing systems: %w", err)
	}
	return scanSystems(rows)
}

func scanSystems(rows *sql.Rows) ([]System, error) {
	defer rows.Close()
	var out []System
	for rows.Next() {
		var sys System
		var serial sql.NullString
		var created int64
		if err := rows.Scan(&sys.Service, &sys.Name, &sys.CertIssuer, &serial, &sys.Cert, &sys.KeyDigest, &sys.Settings, &created); err != nil {
			return nil, fmt.Errorf("store: reading a system: %w", err)
		}
		if serial.Valid {
			n, ok := new(big.Int).SetString(serial.String, 16)
			if !ok {
				return nil, fmt.Errorf("store: system %s: bad serial %q", sys.Name, serial.String)
			}
			sys.CertSerial = n
		}
		sys.Created = time.Unix(0, created).UTC()
		out = append(out, sys)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: reading systems: %w", err)
	}
	return out, nil
}

// RemoveSystem removes the system name of service; ErrNotFound when there
// is none.
func (s *Store) RemoveSystem(ctx context.Context, service, name string) error {
	res, err := s.exec(ctx, `DELETE FROM systems WHERE service = ? AND name = ?`, service, name)
	if err != nil {
		return fmt.Errorf("store: removing system %s/%s: %w", service, name, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("%w: system %s/%s", ErrNotFound, service, name)
	}
	return nil
}
