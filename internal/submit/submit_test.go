package submit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/report"
	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/store/sqlite"
)

const (
	tobaccoEIK = "101003527" // the obligated person of examples/sepi
	energyEIK  = "201123456" // the declarant of examples/energy
	gasEIK     = "204567893" // the declarant of the gas sample
	otherEIK   = "175074752"
)

// newService gives a Service over a new SQLite store with the operators of the samples.
func newService(t *testing.T) (*Service, store.Store) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "akciz.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, eik := range []string{tobaccoEIK, energyEIK, gasEIK, otherEIK} {
		if err := st.PutOperator(ctx, store.Operator{EIK: eik, Name: "Лице " + eik}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(Config{Store: st, TempDir: t.TempDir(), StageRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func importSepi(t *testing.T, s *Service, operator, name string) *SepiOutcome {
	t.Helper()
	o, err := s.ImportSepi(context.Background(), operator, bytes.NewReader(readFile(t, name)), nil)
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	return o
}

func TestImportSepi(t *testing.T) {
	s, st := newService(t)
	ctx := context.Background()
	prod := importSepi(t, s, tobaccoEIK, "../../examples/sepi/cigarettes-production.xml")
	if prod.Status != Accepted || prod.List.Barcodes != 20 || prod.List.Number != "2026112000017" || prod.List.ID == 0 {
		t.Fatalf("production list: %+v %v", prod.List, prod.Result.Errors)
	}
	// The same file again: recognised, nothing added.
	again := importSepi(t, s, tobaccoEIK, "../../examples/sepi/cigarettes-production.xml")
	if again.Status != Duplicate || again.List.ID != prod.List.ID || len(again.Result.Errors) != 0 {
		t.Errorf("again: %+v %v", again.Status, again.Result.Errors)
	}
	// Another file with the number: refused, naming the rule.
	changed := append(readFile(t, "../../examples/sepi/cigarettes-production.xml"), "<!-- changed -->\n"...)
	reused, err := s.ImportSepi(ctx, tobaccoEIK, bytes.NewReader(changed), nil)
	if err != nil || reused.Status != Refused || reused.Result.Errors[0].Rule != "list-number-reused" {
		t.Errorf("number reused: %v %+v", err, reused)
	}
	// An invalid list: refused whole, every error with its line; nothing stored.
	bad := importSepi(t, s, tobaccoEIK, "../sepi/testdata/cases/duplicate-barcode/list.xml")
	if bad.Status != Refused || len(bad.Result.Errors) == 0 || bad.Result.Errors[0].Line == 0 {
		t.Errorf("invalid list: %+v", bad.Result.Errors)
	}
	lists, err := st.SepiLists(ctx, store.SepiFilter{Operator: tobaccoEIK})
	if err != nil || len(lists) != 1 {
		t.Errorf("lists after the refusals: %d %v", len(lists), err)
	}
	// Another operator cannot file the person's list.
	stolen := importSepi(t, s, otherEIK, "../../examples/sepi/cigars-entry.xml")
	if e := stolen.Result.Errors[len(stolen.Result.Errors)-1]; stolen.Status != Refused || e.Rule != RulePersonOperator || e.Line != 7 || e.Col != 3 {
		t.Errorf("another operator's list: %+v", stolen.Result.Errors)
	}
	// The exit list takes the production list's barcodes out.
	if exit := importSepi(t, s, tobaccoEIK, "../../examples/sepi/cigarettes-exit.xml"); exit.Status != Accepted || len(exit.Result.Flags) != 0 {
		t.Errorf("exit: %s %v", exit.Status, exit.Result.Errors)
	}
	// A barcode entering again without having left: accepted, flagged (in a store without the sample's
	// production list, whose barcodes the case's list holds too).
	s, st = newService(t)
	importSepi(t, s, tobaccoEIK, "../sepi/testdata/cases/entered-twice/history/0.xml")
	twice := importSepi(t, s, tobaccoEIK, "../sepi/testdata/cases/entered-twice/list.xml")
	if twice.Status != Accepted || len(twice.Result.Flags) != 2 || twice.List.Flagged != 2 {
		t.Fatalf("entered twice: %s %v %v", twice.Status, twice.Result.Errors, twice.Result.Flags)
	}
	var flags []store.SepiFlag
	if err := st.SepiFlags(ctx, store.SepiFilter{Operator: tobaccoEIK}, func(f store.SepiFlag) error { flags = append(flags, f); return nil }); err != nil || len(flags) != 2 ||
		flags[0].Line != 13 || flags[0].Prior.List != "2026112000018" || flags[0].Prior.Operator != tobaccoEIK {
		t.Errorf("stored flags: %+v %v", flags, err)
	}
	// A body cut or altered on the way: nothing stored.
	data := readFile(t, "../../examples/sepi/cigars-entry.xml")
	var wrong [32]byte
	if _, err := s.ImportSepi(ctx, tobaccoEIK, bytes.NewReader(data), &wrong); !errors.Is(err, ErrDigest) {
		t.Errorf("digest mismatch: %v", err)
	}
	if _, err := st.SepiList(ctx, tobaccoEIK, "2026111900042"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a list with a wrong digest was stored: %v", err)
	}
	right := sha256.Sum256(data)
	if o, err := s.ImportSepi(ctx, tobaccoEIK, bytes.NewReader(data), &right); err != nil || o.Status != Accepted {
		t.Errorf("right digest: %v", err)
	}
}

func importEnergy(t *testing.T, s *Service, operator, name string) *EnergyOutcome {
	t.Helper()
	o, err := s.ImportEnergy(context.Background(), operator, name, bytes.NewReader(readFile(t, name)), nil, nil)
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	return o
}

func TestImportEnergy(t *testing.T) {
	s, st := newService(t)
	ctx := context.Background()
	csv := importEnergy(t, s, energyEIK, "../../examples/energy/electricity-2026-Q3.csv")
	if csv.Status != Accepted || csv.File.Rows != 5 || csv.File.Computed.All != 141_690_000 ||
		csv.File.Declared != csv.File.Computed || csv.File.Quarter != "2026-Q3" || csv.File.Kind != "csv" {
		t.Fatalf("csv: %s %+v %v", csv.Status, csv.File, csv.Errors)
	}
	if again := importEnergy(t, s, energyEIK, "../../examples/energy/electricity-2026-Q3.csv"); again.Status != Duplicate || again.File.ID != csv.File.ID {
		t.Errorf("again: %s %+v", again.Status, again.File)
	}
	// The workbook of the same table is another file: it replaces the CSV.
	xlsx := importEnergy(t, s, energyEIK, "../../examples/energy/electricity-2026-Q3.xlsx")
	if xlsx.Status != Accepted || xlsx.File.Rows != 5 || xlsx.File.Kind != "xlsx" {
		t.Fatalf("xlsx: %s %+v %v", xlsx.Status, xlsx.File, xlsx.Errors)
	}
	files, err := st.EnergyFiles(ctx, store.EnergyFilter{Operator: energyEIK})
	if err != nil || len(files) != 2 || files[0].ReplacedBy != xlsx.File.ID {
		t.Errorf("files: %+v %v", files, err)
	}
	var rows []store.EnergyRow
	err = st.EnergyRows(ctx, store.EnergyRowQuery{Operator: energyEIK, MeterID: "32Z1400001234567", File: xlsx.File.ID},
		func(r store.EnergyRow) error { rows = append(rows, r); return nil })
	if err != nil || len(rows) != 2 || rows[0].Quantity != 1_234_000 || rows[1].Tariff != "нощна" {
		t.Errorf("one meter: %+v %v", rows, err)
	}
	// A broken table: refused whole with its lines, nothing staged or stored.
	cases, _ := filepath.Glob("../energy/testdata/cases/*/input.csv")
	if len(cases) < 10 {
		t.Fatalf("energy cases: %d", len(cases))
	}
	for _, c := range cases {
		if strings.HasPrefix(filepath.Base(filepath.Dir(c)), "valid") {
			continue
		}
		o := importEnergy(t, s, energyEIK, c)
		if o.Status != Refused || o.Errors == nil || len(o.Errors.List) == 0 {
			t.Errorf("%s: %s %v", c, o.Status, o.Errors)
		}
	}
	if files, _ := st.EnergyFiles(ctx, store.EnergyFilter{}); len(files) != 2 {
		t.Errorf("files after refusals: %d", len(files))
	}
	if n, err := st.AbortStaleEnergyFiles(ctx, s.cfg.Now().Add(1e12)); err != nil || n != 0 {
		t.Errorf("staging left behind: %d %v", n, err)
	}
	// Another operator's table: refused.
	if o := importEnergy(t, s, otherEIK, "../../examples/energy/natural-gas-2026-Q3.tsv"); o.Status != Refused ||
		o.Errors.List[0].Msg.Key != "submit.energy.declarant_operator" {
		t.Errorf("another declarant: %s %+v", o.Status, o.Errors)
	}
	left, err := os.ReadDir(s.cfg.TempDir)
	if err != nil || len(left) != 0 {
		t.Errorf("spool files left: %v %v", left, err)
	}
}

// identifyHeader names the operator by a header: the tests' stand-in for the client certificate,
// which cmd/akciz's end-to-end test covers.
func identifyHeader(r *http.Request) (string, error) {
	if v := r.Header.Get("X-Test-Operator"); v != "" {
		return v, nil
	}
	return "", errors.New("no certificate")
}

func TestAPI(t *testing.T) {
	s, _ := newService(t)
	mux := http.NewServeMux()
	s.Routes(mux, identifyHeader, nil)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, operator, ctype string, body []byte, digest string) (int, []byte, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
		if operator != "" {
			req.Header.Set("X-Test-Operator", operator)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if digest != "" {
			req.Header.Set("Content-Digest", digest)
		}
		req.Header.Set("Accept-Language", "en")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, resp.Header
	}
	list := readFile(t, "../../examples/sepi/cigarettes-production.xml")
	sum := sha256.Sum256(list)
	digest := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"
	if code, b, _ := do("POST", SepiListsPath, "", "application/xml", list, ""); code != http.StatusForbidden {
		t.Errorf("no certificate: %d %s", code, b)
	}
	if code, b, _ := do("POST", SepiListsPath, tobaccoEIK, "text/plain", list, ""); code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d %s", code, b)
	}
	if code, b, _ := do("POST", SepiListsPath, tobaccoEIK, "application/xml", list, "sha-256=:AAAA:"); code != http.StatusBadRequest {
		t.Errorf("bad digest: %d %s", code, b)
	}
	code, b, _ := do("POST", SepiListsPath, tobaccoEIK, "application/xml", list, digest)
	var rep SepiReply
	if err := json.Unmarshal(b, &rep); err != nil || code != http.StatusCreated || rep.Barcodes != 20 || rep.Number != "2026112000017" {
		t.Fatalf("POST list: %d %s", code, b)
	}
	code, b, _ = do("POST", SepiListsPath, tobaccoEIK, "application/xml", list, digest)
	if err := json.Unmarshal(b, &rep); err != nil || code != http.StatusOK || !rep.Duplicate {
		t.Errorf("POST again: %d %s", code, b)
	}
	// The same number with other bytes (one comment more): refused, naming the rule and the place.
	code, b, _ = do("POST", SepiListsPath, tobaccoEIK, "application/xml", append(list, "<!-- 2 -->\n"...), "")
	if err := json.Unmarshal(b, &rep); err != nil || code != http.StatusUnprocessableEntity || rep.Duplicate ||
		len(rep.Errors) != 1 || rep.Errors[0].Rule != "list-number-reused" || rep.Errors[0].Line == 0 {
		t.Errorf("POST another file with the number: %d %s", code, b)
	}
	bad := readFile(t, "../sepi/testdata/cases/count-brand/list.xml")
	code, b, _ = do("POST", SepiListsPath, tobaccoEIK, "application/xml", bad, "")
	if err := json.Unmarshal(b, &rep); err != nil || code != http.StatusUnprocessableEntity || len(rep.Errors) == 0 ||
		rep.Errors[0].Line == 0 || rep.Errors[0].Rule == "" || !strings.Contains(rep.Message, "refused") {
		t.Errorf("POST invalid: %d %s", code, b)
	}

	code, b, _ = do("GET", SepiListsPath, tobaccoEIK, "", nil, "")
	var rows []map[string]any
	if err := json.Unmarshal(b, &rows); err != nil || code != 200 || len(rows) != 1 || rows[0]["number"] != "2026112000017" || rows[0]["packages"] != 20.0 {
		t.Errorf("GET lists: %d %s", code, b)
	}
	// Another operator sees nothing of it.
	if code, b, _ = do("GET", SepiListsPath, otherEIK, "", nil, ""); code != 200 || strings.TrimSpace(string(b)) != "[\n]" {
		t.Errorf("GET lists of another operator: %d %q", code, b)
	}
	if code, b, _ = do("GET", SepiListsPath+"/2026112000017/barcodes", otherEIK, "", nil, ""); code != http.StatusNotFound {
		t.Errorf("another operator's barcodes: %d %s", code, b)
	}
	code, b, h := do("GET", SepiListsPath+"/2026112000017/barcodes?format=csv", tobaccoEIK, "", nil, "")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || strings.Count(string(b), "\n") != 21 {
		t.Errorf("barcodes CSV: %d %s", code, b)
	}
	code, b, _ = do("GET", SepiProductsPath+"?from=2026-11-01&to=2026-12-01&point=BGNBL00003004001010", tobaccoEIK, "", nil, "")
	if err := json.Unmarshal(b, &rows); err != nil || code != 200 || len(rows) == 0 || rows[0]["brand"] == nil {
		t.Errorf("products: %d %s", code, b)
	}
	if code, b, h = do("GET", SepiFlagsPath+"?format=xlsx", tobaccoEIK, "", nil, ""); code != 200 || h.Get("Content-Type") != XLSXType || !bytes.HasPrefix(b, []byte("PK")) {
		t.Errorf("flags xlsx: %d %s", code, h)
	}
	if code, b, _ = do("GET", SepiListsPath+"?from=yesterday", tobaccoEIK, "", nil, ""); code != http.StatusBadRequest {
		t.Errorf("bad from: %d %s", code, b)
	}
	if code, b, _ = do("GET", SepiListsPath+"?format=pdf", tobaccoEIK, "", nil, ""); code != http.StatusBadRequest {
		t.Errorf("bad format: %d %s", code, b)
	}

	table := readFile(t, "../../examples/energy/natural-gas-2026-Q3.tsv")
	code, b, _ = do("POST", EnergyFilesPath+"?name=gas.tsv", gasEIK, "text/tab-separated-values", table, "")
	var er EnergyReply
	if err := json.Unmarshal(b, &er); err != nil || code != http.StatusCreated || er.Product != "natural-gas" || er.Unit != "m3" ||
		er.Declared == nil || *er.Declared != *er.Computed || er.Rows == 0 {
		t.Fatalf("POST energy: %d %s", code, b)
	}
	if code, b, _ = do("POST", EnergyFilesPath+"?name=gas.tsv", gasEIK, "", table, ""); code != http.StatusOK {
		t.Errorf("POST energy again: %d %s", code, b)
	}
	broken := readFile(t, "../energy/testdata/cases/totals-mismatch/input.csv")
	code, b, _ = do("POST", EnergyFilesPath, gasEIK, "text/csv", broken, "")
	if err := json.Unmarshal(b, &er); err != nil || code != http.StatusUnprocessableEntity || len(er.Errors) == 0 || er.Errors[0].Line == 0 {
		t.Errorf("POST broken energy: %d %s", code, b)
	}
	code, b, _ = do("GET", EnergyFilesPath+"?quarter=2026-Q3", gasEIK, "", nil, "")
	if err := json.Unmarshal(b, &rows); err != nil || code != 200 || len(rows) != 1 || rows[0]["product"] != "natural gas" {
		t.Errorf("GET energy files: %d %s", code, b)
	}
	code, b, _ = do("GET", EnergyRowsPath+"?format=csv&lang=bg", gasEIK, "", nil, "")
	if code != 200 || !strings.Contains(string(b), "Адрес на потребление") {
		t.Errorf("GET energy rows: %d %s", code, b)
	}
	if code, b, _ = do("GET", EnergyRowsPath, otherEIK, "", nil, ""); code != 200 || strings.TrimSpace(string(b)) != "[\n]" {
		t.Errorf("another operator's rows: %d %s", code, b)
	}
}

// TestColumnKeys: every column and enumeration value the reports name has its text in both languages.
func TestColumnKeys(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	for _, l := range []i18n.Lang{i18n.BG, i18n.EN} {
		p := i18n.For(l)
		for _, build := range []func(context.Context, *i18n.Printer, Query) (*Report, error){
			s.SepiLists, s.SepiProducts, s.SepiFlags, s.EnergyFiles, s.EnergyRows} {
			rep, err := build(ctx, p, Query{})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range rep.Doc.Sections[0].Blocks[0].(*report.Table).Columns {
				if strings.HasPrefix(c.Header, "submit.") {
					t.Errorf("%s: no text for %s", l, c.Header)
				}
			}
		}
		for group, values := range map[string][]string{
			"kind":     {"production-to-warehouse", "warehouse-to-production", "entry", "exit"},
			"goods":    {"cigarettes", "cigars", "smoking-tobacco"},
			"product":  {"electricity", "natural-gas"},
			"consumer": {"household", "business", "self-consumption"},
		} {
			for _, v := range values {
				if !i18n.Has(l, "submit."+group+"."+v) || label(p, group, v) == "" {
					t.Errorf("%s: no text for %s %s", l, group, v)
				}
			}
		}
	}
}

// TestFlagAcrossOperators: a barcode still inside another operator's warehouse is flagged, and the
// operator learns that it was another's list, not its number.
func TestFlagAcrossOperators(t *testing.T) {
	s, st := newService(t)
	ctx := context.Background()
	first := readFile(t, "../sepi/testdata/cases/entered-twice/history/0.xml")
	first = bytes.ReplaceAll(first, []byte(`eik="101003527"`), []byte(`eik="175074752"`))
	if o, err := s.ImportSepi(ctx, otherEIK, bytes.NewReader(first), nil); err != nil || o.Status != Accepted {
		t.Fatalf("the other operator's list: %v %+v", err, o)
	}
	twice := importSepi(t, s, tobaccoEIK, "../sepi/testdata/cases/entered-twice/list.xml")
	rep := SepiReplyOf(i18n.For(i18n.EN), twice)
	if twice.Status != Accepted || len(rep.Flags) != 2 || strings.Contains(rep.Flags[0].Message, "2026112000018") ||
		!strings.Contains(rep.Flags[0].Message, "another obligated person") {
		t.Errorf("flags: %+v", rep.Flags)
	}
	// The officers' view (all operators) keeps the earlier list's number.
	var flags []store.SepiFlag
	st.SepiFlags(ctx, store.SepiFilter{}, func(f store.SepiFlag) error { flags = append(flags, f); return nil })
	if len(flags) != 2 || flags[0].Prior.List != "2026112000018" || flags[0].Prior.Operator != otherEIK {
		t.Errorf("stored flags: %+v", flags)
	}
	r, err := s.SepiFlags(ctx, i18n.For(i18n.EN), Query{Operator: tobaccoEIK})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil || strings.Contains(b.String(), "2026112000018") || !strings.Contains(b.String(), "another obligated person") {
		t.Errorf("operator's flags report: %v\n%s", err, b.String())
	}
}

// TestSameNumberOtherOperator: another operator's list of the same number is another list: its
// barcodes are flagged when they enter again.
func TestSameNumberOtherOperator(t *testing.T) {
	s, _ := newService(t)
	ctx := context.Background()
	list := readFile(t, "../../examples/sepi/cigarettes-production.xml")
	other := bytes.ReplaceAll(list, []byte(`eik="101003527"`), []byte(`eik="175074752"`))
	if o, err := s.ImportSepi(ctx, otherEIK, bytes.NewReader(other), nil); err != nil || o.Status != Accepted {
		t.Fatalf("other: %v %+v", err, o)
	}
	o := importSepi(t, s, tobaccoEIK, "../../examples/sepi/cigarettes-production.xml")
	if o.Status != Accepted || len(o.Result.Flags) != 20 {
		t.Errorf("same number, other operator: %s, %d flags", o.Status, len(o.Result.Flags))
	}
}
