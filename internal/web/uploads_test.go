package web

import (
	"bytes"
	"io"
	"log"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"crypto/tls"

	"github.com/akciz/akciz/internal/submit"
)

// newUploadServer is newTestServer's console with the file submissions' service.
func newUploadServer(t *testing.T) *testServer {
	t.Helper()
	x := newTestServer(t)
	svc, err := submit.New(submit.Config{Store: x.st, TempDir: t.TempDir(), Now: x.clock.Now})
	must(t, err)
	w, err := New(Config{Store: x.st, Now: x.clock.Now, Logger: log.New(io.Discard, "", 0), Submissions: svc})
	must(t, err)
	x.web = w
	x.ts = httptest.NewUnstartedServer(w)
	x.ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	x.ts.TLS = &tls.Config{ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS13}
	x.ts.StartTLS()
	t.Cleanup(x.ts.Close)
	return x
}

// upload posts a file as the multipart form of an upload page.
func (c *testClient) upload(path, name string, data []byte, csrf string) (int, string) {
	c.x.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if csrf != "" {
		must(c.x.t, mw.WriteField("csrf", csrf))
	}
	fw, err := mw.CreateFormFile("file", name)
	must(c.x.t, err)
	fw.Write(data)
	must(c.x.t, mw.Close())
	req, err := http.NewRequest(http.MethodPost, c.x.ts.URL+path, &b)
	must(c.x.t, err)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.c.Do(req)
	must(c.x.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(c.x.t, err)
	return resp.StatusCode, string(body)
}

// sample reads a sample of the repository with the EIK of its person or declarant replaced by eikA,
// the fixture's operator.
func sample(t *testing.T, name, eik string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	must(t, err)
	return bytes.ReplaceAll(b, []byte(eik), []byte(eikA))
}

func TestUploads(t *testing.T) {
	x := newUploadServer(t)
	op := x.client("operator").login()
	code, body := op.get("/uploads")
	if code != http.StatusOK || !strings.Contains(body, `id="upload-sepi"`) || !strings.Contains(body, `id="no-lists"`) ||
		!strings.Contains(body, `href="/uploads"`) {
		t.Fatalf("uploads page: %d\n%s", code, body)
	}
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no CSRF token")
	}
	csrf := m[1]
	// The list counted at site A's control point, so that site A's officer sees it.
	list := bytes.ReplaceAll(sample(t, "../../examples/sepi/cigarettes-production.xml", "101003527"),
		[]byte("BGNBL00003004001010"), []byte(pointA))
	if code, body := op.upload("/uploads/sepi", "list.xml", list, ""); code != http.StatusForbidden {
		t.Errorf("upload without CSRF: %d", code)
	} else if strings.Contains(body, "2026112000017") {
		t.Errorf("upload without CSRF answered with the list")
	}
	code, body = op.upload("/uploads/sepi", "list.xml", list, csrf)
	if code != http.StatusOK || !strings.Contains(body, `id="summary"`) || !strings.Contains(body, "2026112000017") {
		t.Fatalf("upload list: %d\n%s", code, body)
	}
	code, body = op.upload("/uploads/sepi", "list.xml", list, csrf)
	if code != http.StatusOK || !strings.Contains(body, "приет по-рано") {
		t.Errorf("upload list again: %d\n%s", code, body)
	}
	bad := sample(t, "../sepi/testdata/cases/count-brand/list.xml", "101003527")
	code, body = op.upload("/uploads/sepi", "bad.xml", bad, csrf)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="findings"`) || !strings.Contains(body, "count-brand") ||
		!regexp.MustCompile(`<td class="num">[1-9][0-9]*</td>`).MatchString(body) {
		t.Errorf("upload invalid list: %d\n%s", code, body)
	}
	table := sample(t, "../../examples/energy/electricity-2026-Q3.csv", "201123456")
	code, body = op.upload("/uploads/energy", "electricity-2026-Q3.csv", table, csrf)
	if code != http.StatusOK || !strings.Contains(body, "141,69") || !strings.Contains(body, "2026-Q3") {
		t.Fatalf("upload table: %d\n%s", code, body)
	}
	broken := sample(t, "../energy/testdata/cases/totals-mismatch/input.csv", "201123456")
	code, body = op.upload("/uploads/energy", "broken.csv", broken, csrf)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="findings"`) {
		t.Errorf("upload broken table: %d\n%s", code, body)
	}
	code, body = op.get("/uploads")
	if code != http.StatusOK || !strings.Contains(body, `id="list-2026112000017"`) || !strings.Contains(body, `id="files"`) {
		t.Errorf("uploads page after: %d\n%s", code, body)
	}
	// The reports, as downloads.
	if code, body := op.get("/uploads/reports/sepi-lists?format=csv"); code != http.StatusOK || !strings.Contains(body, "2026112000017") {
		t.Errorf("lists CSV: %d\n%s", code, body)
	}
	if code, body := op.get("/uploads/reports/sepi-barcodes?number=2026112000017&format=csv"); code != http.StatusOK || strings.Count(body, "\n") != 21 {
		t.Errorf("barcodes CSV: %d\n%s", code, body)
	}
	if code, body := op.get("/uploads/reports/energy-rows?format=xlsx"); code != http.StatusOK || !strings.HasPrefix(body, "PK") {
		t.Errorf("rows XLSX: %d", code)
	}
	for _, path := range []string{"/uploads/reports/nothing?format=csv", "/uploads/reports/sepi-lists?format=pdf"} {
		if code, _ := op.get(path); code != http.StatusNotFound {
			t.Errorf("%s: %d", path, code)
		}
	}
	if code, _ := x.client("operatorB").login().get("/uploads/reports/sepi-barcodes?number=2026112000017&format=csv"); code != http.StatusNotFound {
		t.Errorf("B reads A's barcodes: %d", code)
	}
	// Another operator sees none of it; an officer has no upload page.
	if code, body := x.client("operatorB").login().get("/uploads"); code != http.StatusOK || strings.Contains(body, "2026112000017") {
		t.Errorf("operator B: %d", code)
	}
	// Site A's officer sees the list (no forms, no energy tables, no barcodes by number); site B's
	// officer does not; the administrator sees all.
	officer := x.client("officer").login()
	if code, body := officer.get("/uploads"); code != http.StatusOK || !strings.Contains(body, `id="list-2026112000017"`) ||
		strings.Contains(body, `id="upload-sepi"`) || strings.Contains(body, `id="files"`) {
		t.Errorf("officer: %d\n%s", code, body)
	}
	if code, body := officer.get("/uploads/reports/sepi-lists?format=csv"); code != http.StatusOK || !strings.Contains(body, "2026112000017") {
		t.Errorf("officer's lists CSV: %d", code)
	}
	for _, path := range []string{"/uploads/reports/energy-files?format=csv", "/uploads/reports/sepi-barcodes?number=2026112000017&format=csv"} {
		if code, _ := officer.get(path); code != http.StatusNotFound {
			t.Errorf("officer %s: %d", path, code)
		}
	}
	if code, body := x.client("officerB").login().get("/uploads/reports/sepi-lists?format=csv"); code != http.StatusOK || strings.Contains(body, "2026112000017") {
		t.Errorf("officer B's lists: %d\n%s", code, body)
	}
	if code, body := x.client("admin").login().get("/uploads"); code != http.StatusOK || !strings.Contains(body, `id="list-2026112000017"`) ||
		!strings.Contains(body, `id="files"`) {
		t.Errorf("admin: %d", code)
	}
	if code, _ := officer.post("/uploads/sepi", nil); code != http.StatusNotFound {
		t.Errorf("officer uploads: %d", code)
	}
	// Operator B cannot file operator A's list.
	opB := x.client("operatorB").login()
	_, bodyB := opB.get("/uploads")
	mb := csrfRE.FindStringSubmatch(bodyB)
	if mb == nil {
		t.Fatal("no CSRF token for B")
	}
	other := sample(t, "../../examples/sepi/cigars-entry.xml", "101003527")
	if code, body := opB.upload("/uploads/sepi", "a.xml", other, mb[1]); code != http.StatusUnprocessableEntity || !strings.Contains(body, "person-operator") {
		t.Errorf("B files A's list: %d\n%s", code, body)
	}
}
