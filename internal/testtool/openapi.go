package testtool

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

var openAPIParam = regexp.MustCompile(`\{([^}]+)\}`)

// OpenAPIMatchesRoutes checks that an OpenAPI 3 document and a service's
// routes ("METHOD /path/:param", Echo's syntax) under prefix agree: every
// route documented, every documented operation served.
func OpenAPIMatchesRoutes(t testing.TB, doc []byte, routes []string, prefix string) {
	t.Helper()
	var d struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || !strings.HasPrefix(d.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
	documented := map[string]bool{}
	for path, ops := range d.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+openAPIParam.ReplaceAllString(path, ":$1")] = true
		}
	}
	served := map[string]bool{}
	for _, r := range routes {
		if _, path, _ := strings.Cut(r, " "); strings.HasPrefix(path, prefix) {
			served[r] = true
		}
	}
	for k := range served {
		if !documented[k] {
			t.Errorf("route %s is not in the OpenAPI document", k)
		}
	}
	for k := range documented {
		if !served[k] {
			t.Errorf("the OpenAPI document has %s, which is not served", k)
		}
	}
}
