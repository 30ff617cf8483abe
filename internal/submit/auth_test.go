package submit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/store"
)

// TestAuthorisation: an operator sees nothing of another's submissions, by any route and with any
// parameter (a number, a file id, a meter, a consumer, a quarter, a point, or an operator= that the API
// does not have), in any format; a request without an operator is refused on every route.
func TestAuthorisation(t *testing.T) {
	s, st := newService(t)
	importSepi(t, s, tobaccoEIK, "../../examples/sepi/cigarettes-production.xml")
	importSepi(t, s, tobaccoEIK, "../sepi/testdata/cases/entered-twice/history/0.xml")
	if o := importSepi(t, s, tobaccoEIK, "../sepi/testdata/cases/entered-twice/list.xml"); len(o.Result.Flags) == 0 {
		t.Fatal("no flags to hide")
	}
	gas := importEnergy(t, s, gasEIK, "../../examples/energy/natural-gas-2026-Q3.tsv")
	el := importEnergy(t, s, energyEIK, "../../examples/energy/electricity-2026-Q3.csv")
	if gas.Status != Accepted || el.Status != Accepted {
		t.Fatal(gas.Status, el.Status)
	}
	lists, _ := st.SepiLists(t.Context(), store.SepiFilter{})
	if len(lists) != 3 {
		t.Fatalf("lists: %d", len(lists))
	}
	// What the others' submissions hold that no answer to otherEIK may show.
	secrets := []string{tobaccoEIK, energyEIK, gasEIK, "2026112000017", "2026112000018", "038005710000412007",
		"GM-000101", "401001237", "32Z1400001234567", "Газ Търговия", "electricity-2026-Q3", "BGNBL0000300"}

	identify := func(r *http.Request) (string, error) {
		switch v := r.Header.Get("X-Test-Operator"); v {
		case "none":
			return "", errors.New("no certificate")
		case "empty":
			return "", nil // an identity without an EIK
		default:
			return v, nil
		}
	}
	mux := http.NewServeMux()
	s.Routes(mux, identify, nil)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	gasFile, elFile := fmt.Sprint(gas.File.ID), fmt.Sprint(el.File.ID)
	params := []string{"", "number=2026112000017", "number=2026112000018", "point=BGNBL00003004001010",
		"kind=production-to-warehouse", "from=2026-01-01&to=2027-01-01", "operator=" + tobaccoEIK,
		"operator=", "file=" + gasFile, "file=" + elFile, "meter=GM-000101", "meter=32Z1400001234567",
		"eik=401001237", "quarter=2026-Q3", "product=natural-gas", "product=electricity", "limit=1000"}
	gets := []string{SepiListsPath, SepiListsPath + "/2026112000017/barcodes", SepiListsPath + "/2026112000018/barcodes",
		SepiProductsPath, SepiFlagsPath, EnergyFilesPath, EnergyRowsPath}
	do := func(method, path, operator, ctype string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		req.Header.Set("X-Test-Operator", operator)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	n := 0
	for _, path := range gets {
		for _, p := range params {
			for _, format := range []string{"json", "csv"} {
				url := path + "?format=" + format
				if p != "" {
					url += "&" + p
				}
				code, body := do("GET", url, otherEIK, "", nil)
				if code != http.StatusOK && code != http.StatusNotFound {
					t.Errorf("GET %s: %d %s", url, code, body)
				}
				for _, secret := range secrets {
					if strings.Contains(body, secret) {
						t.Errorf("GET %s as another operator shows %q:\n%s", url, secret, body)
					}
				}
				n++
			}
		}
	}
	// Posting another's list or table, the same bytes: refused, and the answer names nothing stored.
	for _, post := range []struct {
		path, ctype, file string
	}{{SepiListsPath, "application/xml", "../../examples/sepi/cigarettes-production.xml"},
		{EnergyFilesPath + "?name=gas.tsv", "text/tab-separated-values", "../../examples/energy/natural-gas-2026-Q3.tsv"}} {
		code, body := do("POST", post.path, otherEIK, post.ctype, readFile(t, post.file))
		if code != http.StatusUnprocessableEntity || strings.Contains(body, `"duplicate": true`) {
			t.Errorf("POST %s of another's file: %d %s", post.path, code, body)
		}
	}
	// Without an operator: refused everywhere.
	for _, who := range []string{"none", "empty"} {
		for _, path := range append(gets, "POST "+SepiListsPath, "POST "+EnergyFilesPath) {
			method := "GET"
			if m, p, ok := strings.Cut(path, " "); ok {
				method, path = m, p
			}
			if code, body := do(method, path, who, "application/xml", []byte("<x/>")); code != http.StatusForbidden {
				t.Errorf("%s %s as %s: %d %s", method, path, who, code, body)
			}
		}
	}
	// The owners see their own by the same routes.
	for _, c := range []struct{ operator, url, want string }{
		{tobaccoEIK, SepiListsPath, "2026112000017"},
		{tobaccoEIK, SepiListsPath + "/2026112000017/barcodes?format=csv", "038005710000412007"},
		{tobaccoEIK, SepiProductsPath + "?number=2026112000017", "2026112000017"},
		{tobaccoEIK, SepiFlagsPath, "2026112000018"},
		{gasEIK, EnergyFilesPath, "natural-gas-2026-Q3"},
		{gasEIK, EnergyRowsPath + "?meter=GM-000101", "GM-000101"},
		{energyEIK, EnergyRowsPath + "?file=" + elFile, "32Z1400001234567"},
	} {
		if code, body := do("GET", c.url, c.operator, "", nil); code != http.StatusOK || !strings.Contains(body, c.want) {
			t.Errorf("GET %s as its owner: %d, no %q:\n%s", c.url, code, c.want, body)
		}
	}
	if n < 200 {
		t.Errorf("only %d requests", n)
	}
}
