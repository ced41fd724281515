package mpower

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

const entitiesCSV = `idno,name,form,admin_idnp,admin_from,admin_to
1010600034203,Exemplu,SRL,2004001000032,2020-01-01,
1010600034203,Exemplu,SRL,2004001000010,2018-01-01,2020-01-01
1013600047206,"Cooperativa ""Viața""",CP,,,
`

func TestEntitiesImport(t *testing.T) {
	list, err := ParseEntitiesCSV(strings.NewReader(entitiesCSV))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || len(list[0].Administrators) != 2 || list[1].Name != `Cooperativa "Viața"` {
		t.Fatalf("%+v", list)
	}
	f := newFixture(t, filepath.Join(t.TempDir(), "s.db"))
	if err := f.reg.PutEntities(context.Background(), "t", list); err != nil {
		t.Fatal(err)
	}
	e, err := f.reg.Entity(context.Background(), "1010600034203")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) bool {
		d, _ := parseDate(s)
		return e.AdministeredBy("2004001000010", d)
	}
	if !at("2019-06-01") || at("2020-01-01") || at("2017-12-31") {
		t.Fatal("administrator dates not kept")
	}
	for name, bad := range map[string]string{
		"empty":       ``,
		"header":      "idno,name\n",
		"bad idno":    "idno,name,form,admin_idnp,admin_from,admin_to\n1010600034200,X,SRL,,,\n",
		"bad idnp":    "idno,name,form,admin_idnp,admin_from,admin_to\n1010600034203,X,SRL,2004001000011,2020-01-01,\n",
		"bad date":    "idno,name,form,admin_idnp,admin_from,admin_to\n1010600034203,X,SRL,2004001000010,01.01.2020,\n",
		"ends before": "idno,name,form,admin_idnp,admin_from,admin_to\n1010600034203,X,SRL,2004001000010,2020-01-01,2019-01-01\n",
		"two names":   "idno,name,form,admin_idnp,admin_from,admin_to\n1010600034203,X,SRL,,,\n1010600034203,Y,SRL,,,\n",
		"short line":  "idno,name,form,admin_idnp,admin_from,admin_to\n1010600034203,X\n",
		"no name":     "idno,name,form,admin_idnp,admin_from,admin_to\n1010600034203, ,SRL,,,\n",
	} {
		if _, err := ParseEntitiesCSV(strings.NewReader(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseEntitiesCSV(f *testing.F) {
	f.Add(entitiesCSV)
	f.Add("idno,name,form,admin_idnp,admin_from,admin_to\n\"")
	f.Fuzz(func(t *testing.T, s string) {
		list, err := ParseEntitiesCSV(strings.NewReader(s))
		if err != nil {
			if !errors.Is(err, ErrInvalid) || list != nil {
				t.Fatalf("error %v with %d entities", err, len(list))
			}
			return
		}
		for _, e := range list {
			if e.Name == "" {
				t.Fatalf("entity without a name: %+v", e)
			}
		}
	})
}
