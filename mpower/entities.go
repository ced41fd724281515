package mpower

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/semnat/semnat/idn"
)

// EntitiesCSVHeader is the header of an entities file: one line per
// administrator (a company without one: admin columns empty); the lines of
// one IDNO are merged. Dates are YYYY-MM-DD; an empty admin_to: in office.
const EntitiesCSVHeader = "idno,name,form,admin_idnp,admin_from,admin_to"

// MaxEntitiesCSV bounds the file ParseEntitiesCSV reads.
const MaxEntitiesCSV = 64 << 20

// ParseEntitiesCSV reads an entities file; an error names the line and
// what is wrong, and nothing is returned then.
func ParseEntitiesCSV(r io.Reader) ([]Entity, error) {
	cr := csv.NewReader(io.LimitReader(r, MaxEntitiesCSV))
	cr.FieldsPerRecord = 6
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: the entities file is empty: want the header %s", ErrInvalid, EntitiesCSVHeader)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: entities file: %v", ErrInvalid, err)
	}
	if strings.Join(head, ",") != EntitiesCSVHeader {
		return nil, fmt.Errorf("%w: entities file: the first line is %q, want %s", ErrInvalid, strings.Join(head, ","), EntitiesCSVHeader)
	}
	var out []Entity
	index := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: entities file: %v", ErrInvalid, err)
		}
		line, _ := cr.FieldPos(0)
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: entities file line %d: %s", ErrInvalid, line, fmt.Sprintf(format, args...))
		}
		idno, name, form := rec[0], strings.TrimSpace(rec[1]), strings.TrimSpace(rec[2])
		if idn.KindOf(idno) != idn.Entity {
			return nil, bad("IDNO %q is not a valid IDNO", idno)
		}
		if name == "" {
			return nil, bad("the name is empty")
		}
		i, seen := index[idno]
		if !seen {
			index[idno], i = len(out), len(out)
			out = append(out, Entity{IDNO: idno, Name: name, Form: form})
		} else if out[i].Name != name || out[i].Form != form {
			return nil, bad("%s is named %q %q here and %q %q above", idno, name, form, out[i].Name, out[i].Form)
		}
		if rec[3] == "" && rec[4] == "" && rec[5] == "" {
			continue
		}
		if idn.KindOf(rec[3]) != idn.Person {
			return nil, bad("administrator %q is not a valid IDNP", rec[3])
		}
		a := Administrator{IDNP: rec[3]}
		if a.From, err = time.Parse(time.DateOnly, rec[4]); err != nil {
			return nil, bad("admin_from %q: want YYYY-MM-DD", rec[4])
		}
		if rec[5] != "" {
			if a.To, err = time.Parse(time.DateOnly, rec[5]); err != nil {
				return nil, bad("admin_to %q: want YYYY-MM-DD or nothing (in office)", rec[5])
			}
			if !a.To.After(a.From) {
				return nil, bad("admin_to %s is not after admin_from %s", rec[5], rec[4])
			}
		}
		out[i].Administrators = append(out[i].Administrators, a)
	}
	return out, nil
}
