package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"

	"github.com/BurntSushi/toml"

	"github.com/semnat/semnat/idn"
)

// InstitutionsFile is the file, beside the service files, that names the
// clerks of each provider's back office (FORMAT.md). Without it no
// provider has a back office.
const InstitutionsFile = "institutions.toml"

// Institution is a provider of the catalogue with a back office: the
// people (IDNP) who decide its applications, and where its seal is.
type Institution struct {
	IDNO string
	Name Text // the provider's, from its services
	// Clerks are the IDNPs of the institution's clerks; a clerk logs in with
	// an employee certificate whose organisation carries the IDNO.
	Clerks []string
	// Seal names the PEM files of the institution's seal (key, certificate
	// and chain), relative to the catalogue's directory; empty: the
	// operator gives the seal another way (the demo: its test PKI).
	Seal SealFiles
}

// SealFiles are the files of an institution's seal.
type SealFiles struct {
	Key   string `toml:"key"`
	Cert  string `toml:"cert"`
	Chain string `toml:"chain"`
}

type institutionsFile struct {
	Institution []struct {
		IDNO   string    `toml:"idno"`
		Clerks []string  `toml:"clerks"`
		Seal   SealFiles `toml:"seal"`
	} `toml:"institution"`
}

// loadInstitutions reads InstitutionsFile of fsys, when there is one:
// each institution must be a provider of the catalogue, each clerk a valid
// IDNP working for one institution only.
func (c *Catalog) loadInstitutions(fsys fs.FS) error {
	c.institutions = map[string]*Institution{}
	b, err := fs.ReadFile(fsys, InstitutionsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", InstitutionsFile, err)
	}
	var f institutionsFile
	md, err := toml.Decode(string(b), &f)
	if err != nil {
		return fmt.Errorf("%s: %w: %w", InstitutionsFile, ErrInvalid, err)
	}
	var errs []error
	if und := md.Undecoded(); len(und) > 0 {
		errs = append(errs, fmt.Errorf("%s: %w: unknown keys %v", InstitutionsFile, ErrInvalid, und))
	}
	names := map[string]Text{}
	for _, s := range c.services {
		names[s.Provider.IDNO] = s.Provider.Name
	}
	clerkOf := map[string]string{}
	for i, in := range f.Institution {
		at := fmt.Sprintf("%s: institution %d (idno %q)", InstitutionsFile, i+1, in.IDNO)
		name, ok := names[in.IDNO]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: %w: no service of the catalogue is provided by this IDNO", at, ErrInvalid))
			continue
		case c.institutions[in.IDNO] != nil:
			errs = append(errs, fmt.Errorf("%s: %w: named twice", at, ErrInvalid))
			continue
		case len(in.Clerks) == 0:
			errs = append(errs, fmt.Errorf("%s: %w: no clerks (clerks = [\"IDNP\", …])", at, ErrInvalid))
		}
		if (in.Seal.Key == "") != (in.Seal.Cert == "") {
			errs = append(errs, fmt.Errorf("%s: %w: the seal needs both key and cert", at, ErrInvalid))
		}
		for _, p := range in.Clerks {
			if !idn.Valid(p) || p[0] == '1' {
				errs = append(errs, fmt.Errorf("%s: %w: clerk %q is not a valid IDNP", at, ErrInvalid, p))
			} else if o, dup := clerkOf[p]; dup {
				errs = append(errs, fmt.Errorf("%s: %w: clerk %s also works for %s", at, ErrInvalid, p, o))
			}
			clerkOf[p] = in.IDNO
		}
		c.institutions[in.IDNO] = &Institution{IDNO: in.IDNO, Name: name, Clerks: slices.Clone(in.Clerks), Seal: in.Seal}
	}
	return errors.Join(errs...)
}

// Institution is the back office of the provider idno, or nil.
func (c *Catalog) Institution(idno string) *Institution { return c.institutions[idno] }

// Institutions lists the providers with a back office, by IDNO.
func (c *Catalog) Institutions() []*Institution {
	out := make([]*Institution, 0, len(c.institutions))
	for _, in := range c.institutions {
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IDNO < out[j].IDNO })
	return out
}

// HasClerk tells whether idnp is a clerk of the institution.
func (in *Institution) HasClerk(idnp string) bool { return slices.Contains(in.Clerks, idnp) }

// ServicesOf lists the codes of the services the provider idno renders.
func (c *Catalog) ServicesOf(idno string) []string {
	var out []string
	for _, s := range c.services {
		if s.Provider.IDNO == idno {
			out = append(out, s.Code)
		}
	}
	return out
}
