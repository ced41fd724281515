package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// UpdateSystemSettings changes the settings of the system name of service
// (ErrNotFound when there is none) in one transaction: f gets the current
// settings and returns the new ones and the audit event to record with
// them (nil: none).
func (s *Store) UpdateSystemSettings(ctx context.Context, service, name string, f func(old []byte) ([]byte, *Event, error)) error {
	return s.InTx(ctx, func(tx *Tx) error {
		var old []byte
		err := tx.QueryRowForUpdate(ctx, `SELECT settings FROM systems WHERE service = ? AND name = ?`, service, name).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: system %s/%s", ErrNotFound, service, name)
		} else if err != nil {
			return fmt.Errorf("store: reading system %s/%s: %w", service, name, err)
		}
		settings, ev, err := f(old)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE systems SET settings = ? WHERE service = ? AND name = ?`, settings, service, name); err != nil {
			return fmt.Errorf("store: updating system %s/%s: %w", service, name, err)
		}
		if ev != nil {
			if _, err := tx.Append(ctx, *ev); err != nil {
				return err
			}
		}
		return nil
	})
}
