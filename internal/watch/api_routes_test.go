package watch

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every endpoint the API registers is in docs/openapi-watch.yaml with its method, and the document has
// no path the API does not serve.
func TestRoutesAreDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/openapi-watch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]bool{} // "GET /path"
	path := ""
	pathRE := regexp.MustCompile(`^  (/api/v1/watch/\S+):$`)
	methodRE := regexp.MustCompile(`^    (get|post|put|delete):$`)
	for _, line := range strings.Split(string(b), "\n") {
		if m := pathRE.FindStringSubmatch(line); m != nil {
			path = m[1]
		} else if m := methodRE.FindStringSubmatch(line); m != nil && path != "" {
			doc[strings.ToUpper(m[1])+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range (&API{}).routes() {
		served[rt.pattern] = true
		if !doc[rt.pattern] {
			t.Errorf("%s is not in docs/openapi-watch.yaml", rt.pattern)
		}
	}
	for p := range doc {
		if !served[p] {
			t.Errorf("docs/openapi-watch.yaml has %s, which the API does not serve", p)
		}
	}
}
