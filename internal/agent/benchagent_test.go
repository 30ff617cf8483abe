package agent_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/akciz/akciz/internal/agent"
	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/sim"
)

// The site of `make bench-agent` (tools/bench-agent.sh): 100 meters of 10 tags each behind two Modbus
// TCP gateways, every tag read every second.
//
//   - units 1–6 (gateway "road_gw"): 60 road-rack meters, holding registers, a meter every 20 registers:
//     three uint32 totalizers, float32 flow, temperature and density15 (CDAB), product code, transaction
//     indicator, error bits, start total — 17 registers used, gaps at +15 and +18..19 that the gateway's
//     maxGap="2" lets one read span;
//   - units 7–10 (gateway "rail_gw"): 40 rail-rack meters, input registers, a meter every 16 registers:
//     CDAB totalizers, scaled int32 flow, temperature and density15, product code, error bits, direction
//     (the racks load and unload, чл. 30, ал. 9), and the transaction indicator as a coil.
const (
	benchUnits         = 10
	benchRoadUnits     = 6
	benchPointsPerUnit = 10
	benchTagsPerPoint  = 10
	benchTags          = benchUnits * benchPointsPerUnit * benchTagsPerPoint
	benchWarehouse     = "BGNCA00005001"
)

// TestBenchAgentFiles writes the benchmark's files into $AKCIZ_BENCH_AGENT_DIR for tools/bench-agent.sh:
// scenario.xml for `akciz sim`, automation_config.xml and agent.conf for `akciz agent` (with the keys the
// settings name), and plan.txt with `requests_per_scan=A minimum=B`. The simulator's address comes from
// $AKCIZ_BENCH_AGENT_MODBUS and the (unreachable) server's from $AKCIZ_BENCH_AGENT_SERVER.
func TestBenchAgentFiles(t *testing.T) {
	dir := os.Getenv("AKCIZ_BENCH_AGENT_DIR")
	if dir == "" {
		t.Skip("AKCIZ_BENCH_AGENT_DIR is not set: this test only writes the files of `make bench-agent` (tools/bench-agent.sh)")
	}
	modbus := envOr("AKCIZ_BENCH_AGENT_MODBUS", "127.0.0.1:5020")
	server := envOr("AKCIZ_BENCH_AGENT_SERVER", "https://127.0.0.1:9")
	line := writeBenchFiles(t, dir, modbus, server)
	t.Log(line)
}

// TestBenchAgentGenerated checks the generator in every `go test` run: the configuration is valid, the
// scenario loads, both describe the same 1,000 tags, and the planner reaches the independent minimum.
func TestBenchAgentGenerated(t *testing.T) {
	dir := t.TempDir()
	line := writeBenchFiles(t, dir, "127.0.0.1:5020", "https://127.0.0.1:9")
	// By hand: a road unit spans registers 0..197 (> 125, so two reads, and two suffice across gaps of at
	// most 2); a rail unit spans 0..158 (two reads) plus ten coils (one read): 6×2 + 4×3 = 24.
	if want := "requests_per_scan=24 minimum=24"; line != want {
		t.Errorf("plan: %q, want %q", line, want)
	}
	data, err := os.ReadFile(filepath.Join(dir, "scenario.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sim.Parse("scenario.xml", data)
	if err != nil {
		t.Fatalf("scenario: %v", err)
	}
	if sc == nil {
		t.Fatal("scenario: nil")
	}
	if n := strings.Count(string(data), "<register "); n != benchTags {
		t.Errorf("scenario has %d registers, want %d", n, benchTags)
	}
	for _, f := range []string{"agent.conf", "ca.pem", "operator.pem", "log.vkey", "plan.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// writeBenchFiles writes the files and returns the plan line.
func writeBenchFiles(t *testing.T, dir, modbus, server string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	scenario, cfgXML := benchSite(modbus)
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("scenario.xml", scenario)
	write("automation_config.xml", cfgXML)

	cfg, ds := config.Parse("automation_config.xml", cfgXML)
	if len(ds) > 0 {
		t.Fatalf("automation_config.xml: %v", ds)
	}
	if n := len(cfg.Tags()); n != benchTags {
		t.Fatalf("automation_config.xml has %d tags, want %d", n, benchTags)
	}
	for _, p := range cfg.Points {
		for _, tg := range p.Tags {
			if d := agent.TagInterval(tg, p); d != time.Second {
				t.Fatalf("tag %s is read every %v, want 1s", tg.Name, d)
			}
		}
	}
	line := fmt.Sprintf("requests_per_scan=%d minimum=%d", agent.PlanConfig(cfg).Requests(), agent.MinimumRequests(cfg))
	write("plan.txt", []byte(line+"\n"))

	writeBenchKeys(t, dir)
	write("agent.conf", []byte(strings.Join([]string{
		"# akciz agent settings of `make bench-agent`: nothing listens at the server, so the agent journals",
		"# and retries, which is the state this benchmark measures acquisition in.",
		"server = " + server,
		"ca = ca.pem",
		"signer = operator.pem",
		"log-key = log.vkey",
		"journal = journal",
		"state = state",
		"",
	}, "\n")))
	return line
}

// writeBenchKeys writes a CA (ca.pem), the operator's key and certificate (operator.pem) and a log key
// (log.vkey): the agent will not start without them, though no server ever checks them here.
func writeBenchKeys(t *testing.T, dir string) {
	t.Helper()
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "akciz bench CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 0, 7)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	opKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	opTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "ИКУНК " + benchWarehouse + "001",
		ExtraNames: []pkix.AttributeTypeAndValue{{Type: []int{2, 5, 4, 97}, Value: "NTRBG-131071587"}}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(0, 0, 7), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	opDER, err := x509.CreateCertificate(rand.Reader, opTmpl, caCert, opKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	pk8, err := x509.MarshalPKCS8PrivateKey(opKey)
	if err != nil {
		t.Fatal(err)
	}
	pemOf := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	_, vkey, err := note.GenerateKey(rand.Reader, "bench.akciz.test")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"ca.pem":       pemOf("CERTIFICATE", caDER),
		"operator.pem": append(pemOf("PRIVATE KEY", pk8), pemOf("CERTIFICATE", opDER)...),
		"log.vkey":     []byte(vkey + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// benchTag is one register of a meter: where it lies from the meter's base, and how both files describe it.
type benchTag struct {
	suffix, role string
	table        string // scenario table
	off, size    int
	typ, order   string
	scale        string // scenario scale ("" = 1); the configuration's formula is x * scale
	unit, res    string
	low, high    string
	param        string
}

var roadTags = []benchTag{
	{"total_volume", "total-volume", "holding-register", 0, 2, "uint32", "ABCD", "", "L", "1", "0", "", "Общ обем при температура на продукта"},
	{"total_std_volume", "total-std-volume", "holding-register", 2, 2, "uint32", "ABCD", "", "L", "1", "0", "", "Общ обем при 15 °C"},
	{"total_mass", "total-mass", "holding-register", 4, 2, "uint32", "ABCD", "", "kg", "1", "0", "", "Обща маса"},
	{"flow", "flow", "holding-register", 6, 2, "float32", "CDAB", "", "L/min", "0.1", "0", "3000", "Моментен дебит"},
	{"temperature", "temperature", "holding-register", 8, 2, "float32", "CDAB", "", "°C", "0.01", "-30", "60", "Температура на продукта"},
	{"density15", "density15", "holding-register", 10, 2, "float32", "CDAB", "", "kg/m3", "0.1", "600", "1000", "Плътност при 15 °C"},
	{"product", "product-code", "holding-register", 12, 1, "uint16", "", "", "", "", "", "", "Код на продукта"},
	{"transaction", "transaction-indicator", "holding-register", 13, 1, "uint16", "", "", "", "", "0", "1", "Индикатор за промяна"},
	{"errors", "error-bits", "holding-register", 14, 1, "uint16", "", "", "", "", "", "", "Грешки на разходомера"},
	{"start_total", "start-total", "holding-register", 16, 2, "uint32", "ABCD", "", "L", "1", "", "", "Обем в началото на транзакцията"},
}

var railTags = []benchTag{
	{"total_volume", "total-volume", "input-register", 0, 2, "uint32", "CDAB", "", "L", "1", "0", "", "Общ обем при температура на продукта"},
	{"total_std_volume", "total-std-volume", "input-register", 2, 2, "uint32", "CDAB", "", "L", "1", "0", "", "Общ обем при 15 °C"},
	{"total_mass", "total-mass", "input-register", 4, 2, "uint32", "CDAB", "", "kg", "1", "0", "", "Обща маса"},
	{"flow", "flow", "input-register", 6, 2, "int32", "ABCD", "0.1", "L/min", "0.1", "0", "4000", "Моментен дебит"},
	{"temperature", "temperature", "input-register", 8, 2, "int32", "ABCD", "0.01", "°C", "0.01", "-30", "60", "Температура на продукта"},
	{"density15", "density15", "input-register", 10, 2, "int32", "ABCD", "0.01", "kg/m3", "0.01", "600", "1000", "Плътност при 15 °C"},
	{"product", "product-code", "input-register", 12, 1, "uint16", "", "", "", "", "", "", "Код на продукта"},
	{"errors", "error-bits", "input-register", 13, 1, "uint16", "", "", "", "", "", "", "Грешки на разходомерния компютър"},
	{"direction", "direction", "input-register", 14, 1, "uint16", "", "", "", "", "0", "1", "Посока на движение"},
	{"transaction", "transaction-indicator", "coil", 0, 1, "bit", "", "", "", "", "", "", "Индикатор за промяна"},
}

var benchErrors = [][2]string{{"E01", "Повреда на температурния датчик"}, {"E02", "Дебитът е извън обхвата на разходомера"},
	{"E03", "Повреда на плътномера"}, {"E04", "Загуба на импулси от разходомера"}}

// benchSite returns the scenario and the matching automation_config.xml.
func benchSite(modbus string) (scenario, cfg []byte) {
	var s, c strings.Builder
	s.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!-- make bench-agent: 100 meters × 10 registers on units 1–10 (generated by internal/agent/benchagent_test.go). -->
<scenario name="bench-agent" tick="100ms" truth-period="0" seed="4004">
  <title>Бенчмарк на агента: 1000 тага, всеки се чете всяка секунда</title>
  <warehouse id="` + benchWarehouse + `" box="1"/>
  <product id="a95e10" code="A95E10" raw="1" cn="2710 12 45" excise="E430" name="Безоловен бензин А-95Н Е10" density15="730..755" temperature="4..28" expansion="0.00120"/>
  <product id="diesel" code="DB6" raw="2" cn="2710 19 43" excise="E450" name="Дизелово гориво B6 (EN 590)" density15="820..845" temperature="4..26" expansion="0.00083"/>
`)
	c.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!-- make bench-agent: 100 meters × 10 tags, every tag read every second (generated by internal/agent/benchagent_test.go). -->
<automationConfig xmlns="urn:akciz:automation-config:1" version="1.0">
  <person name="Нефтобаза Девня АД" eik="131071587" exciseNumber="BGNCA0000500A"/>
  <site warehouse="` + benchWarehouse + `" name="Нефтобаза „Девня“ (бенчмарк)" address="гр. Девня, Промишлена зона" customsOffice="BG002000"/>
  <controller id="road_gw" transport="tcp" address="` + modbus + `" unitId="1" timeout="2s" connectTimeout="3s">
    <quirks maxGap="2"/>
  </controller>
  <controller id="rail_gw" transport="tcp" address="` + modbus + `" unitId="7" timeout="2s" connectTimeout="3s">
    <quirks maxGap="1"/>
  </controller>
  <box number="001"/>
`)
	for u := 1; u <= benchUnits; u++ {
		road := u <= benchRoadUnits
		fmt.Fprintf(&s, "  <device unit=\"%d\" name=\"Разходомерни компютри, група %d\">\n", u, u)
		for k := 0; k < benchPointsPerUnit; k++ {
			n := (u-1)*benchPointsPerUnit + k + 1
			tags, stride, class, dir, ctl := roadTags, 20, "road", "out", "road_gw"
			run := `<run rate="1800..2400" duration="20s..60s" gap="10s..40s" lead="3s" lag="3s"/>`
			name := fmt.Sprintf("Автоналивен пост %d", n)
			if !road {
				tags, stride, class, dir, ctl = railTags, 16, "rail", "both", "rail_gw"
				run = `<run rate="2500..3200" duration="30s..90s" gap="20s..60s" lead="3s" lag="3s"/>`
				name = fmt.Sprintf("Жп наливно рамо %d", n)
			}
			fmt.Fprintf(&s, "    <point number=\"%d\" name=\"%s\" kind=\"meter\" class=\"%s\" mode=\"transaction\" direction=\"%s\" products=\"a95e10 diesel\" initial=\"%d\">\n      %s\n",
				n, name, class, dir, 1000000+n*7919, run)
			fmt.Fprintf(&c, `  <point id="%s001%03d" name="%s" class="%s" mode="transaction" direction="%s" interval="1s">
    <products>
      <product code="A95E10" tradeName="Бензин А-95Н с биоетанол" cn="2710 12 45" exciseCode="E430"/>
      <product code="DB6" tradeName="Дизелово гориво" cn="2710 19 43" exciseCode="E450"/>
      <map raw="1" product="A95E10"/>
      <map raw="2" product="DB6"/>
    </products>
`, benchWarehouse, n, name, class, dir)
			for _, tg := range tags {
				addr := k*stride + tg.off
				if tg.table == "coil" {
					addr = k
				}
				// Scenario register.
				fmt.Fprintf(&s, "      <register table=%q address=\"%d\"", tg.table, addr)
				if tg.table != "coil" {
					fmt.Fprintf(&s, " type=%q", tg.typ)
				}
				if tg.order != "" {
					fmt.Fprintf(&s, " order=%q", tg.order)
				}
				if tg.scale != "" {
					fmt.Fprintf(&s, " scale=%q", tg.scale)
				}
				fmt.Fprintf(&s, " role=%q", tg.role)
				if tg.role == "start-total" {
					s.WriteString(` of="total-volume"`)
				}
				s.WriteString("/>\n")
				// Configuration tag.
				prefix := map[string]int{"coil": 0, "discrete-input": 10001, "input-register": 30001, "holding-register": 40001}[tg.table]
				logical := fmt.Sprintf("%05d", prefix+addr)
				if tg.table == "coil" {
					logical = fmt.Sprintf("%05d", addr+1)
				}
				fmt.Fprintf(&c, `    <tag name="p%03d_%s" controller=%q`, n, tg.suffix, ctl)
				if ctlUnit := map[bool]int{true: 1, false: 7}[road]; u != ctlUnit {
					fmt.Fprintf(&c, ` unitId="%d"`, u)
				}
				fmt.Fprintf(&c, ` logical=%q physical="0x%04X" size="%d" type=%q`, logical, addr, tg.size, tg.typ)
				for _, a := range [][2]string{{"order", tg.order}, {"unit", tg.unit}, {"resolution", tg.res}, {"low", tg.low}, {"high", tg.high}} {
					if a[1] != "" {
						fmt.Fprintf(&c, " %s=%q", a[0], a[1])
					}
				}
				fmt.Fprintf(&c, " role=%q", tg.role)
				switch tg.role {
				case "start-total":
					c.WriteString(` of="total-volume"`)
				case "direction":
					c.WriteString(` outValue="0" inValue="1"`)
				}
				fmt.Fprintf(&c, ">\n      <parameter>%s</parameter>\n", tg.param)
				if tg.scale != "" {
					fmt.Fprintf(&c, "      <formula>x * %s</formula>\n", tg.scale)
				}
				if tg.role == "error-bits" {
					c.WriteString("      <errorBits>\n")
					for b, e := range benchErrors {
						fmt.Fprintf(&c, "        <errorBit bit=\"%d\" code=%q severity=\"alarm\">%s</errorBit>\n", b, e[0], e[1])
					}
					c.WriteString("      </errorBits>\n")
				}
				c.WriteString("    </tag>\n")
			}
			for b, e := range benchErrors {
				fmt.Fprintf(&s, "      <error bit=\"%d\" code=%q>%s</error>\n", b, e[0], e[1])
			}
			s.WriteString("    </point>\n")
			c.WriteString("  </point>\n")
		}
		s.WriteString("  </device>\n")
	}
	s.WriteString("</scenario>\n")
	c.WriteString("</automationConfig>\n")
	return []byte(s.String()), []byte(c.String())
}
