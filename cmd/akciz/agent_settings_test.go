package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/akciz/akciz/internal/i18n"
)

const minimalSettings = "server = https://akciz.test\nca = ca.pem\nsigner = key.pem\nlog-key = customs.test+12345678+AQID\n"

func TestSettingsExample(t *testing.T) {
	s, err := loadSettings("../../deploy/agent.conf.example")
	if err != nil {
		t.Fatal(err)
	}
	if s.Server != "https://akciz.customs.bg" || s.Metrics != "127.0.0.1:9464" || s.MaxRecords != 1000 ||
		s.UnsentAlarm != 24*time.Hour || !strings.HasPrefix(s.Signer, "pkcs11:") || s.PINFile != "/etc/akciz/pin" {
		t.Fatalf("%+v", s)
	}
}

func TestSettings(t *testing.T) {
	s, err := parseSettings("/etc/akciz/agent.conf", []byte(minimalSettings+"# comment\n\n  batch-max-wait = 0  \nunsent-alarm=2h\ntest = true\njournal-max-mb = 16\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.CA != "/etc/akciz/ca.pem" || s.MaxWait != 0 || s.UnsentAlarm != 2*time.Hour || !s.Test || s.JournalMax != 16<<20 ||
		s.LogKey != "customs.test+12345678+AQID" || s.Journal != "/var/lib/akciz/journal" {
		t.Fatalf("%+v", s)
	}
}

func TestSettingsErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"server https://x\n", "a.conf:1: expected \"key = value\""},
		{minimalSettings + "ca = other.pem\n", "a.conf:5: ca is set a second time (first on line 2)"},
		{minimalSettings + "colour = blue\n", "a.conf:5: unknown setting \"colour\""},
		{minimalSettings + "batch-max-records = 0\n", "a.conf:5: batch-max-records: \"0\" is not a whole number from 1 to 10000"},
		{minimalSettings + "unsent-alarm = soon\n", "a.conf:5: unsent-alarm: \"soon\" is not a duration"},
		{minimalSettings + "metrics = 0.0.0.0:9464\n", "a.conf:5: metrics: \"0.0.0.0:9464\" is not a loopback address"},
		{"server = http://plain\n", "a.conf:1: server: \"http://plain\" is not an https:// address"},
		{"server = https://x\n", "a.conf: the setting \"ca\" is required"},
		{minimalSettings + "client-cert = c.pem\n", "a.conf: client-cert and client-key go together"},
		{minimalSettings + "log-level = loud\n", "a.conf:5: log-level: \"loud\" is not one of"},
		{minimalSettings + "test = maybe\n", "a.conf:5: test: \"maybe\" is neither"},
		{"\xff = 1\n", "a.conf:1: the line is not UTF-8"},
		{strings.Repeat("#", maxSettingsSize+1), "larger than 65536 bytes"},
	} {
		_, err := parseSettings("a.conf", []byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.text, err, c.want)
		}
	}
	// Bulgarian, with the place.
	_, err := parseSettings("a.conf", []byte("x"))
	if got := err.(*settingsError).text(i18n.For(i18n.BG)); got != "a.conf:1: очаква се „ключ = стойност“" {
		t.Errorf("bg: %s", got)
	}
	big := filepath.Join(t.TempDir(), "big.conf")
	os.WriteFile(big, make([]byte, maxSettingsSize+10), 0o600)
	if _, err := loadSettings(big); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("big file: %v", err)
	}
}

func FuzzSettings(f *testing.F) {
	f.Add([]byte(minimalSettings))
	if b, err := os.ReadFile("../../deploy/agent.conf.example"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("server = https://a\n= \n#\nmetrics = [::1]:1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseSettings("f.conf", data)
		if err == nil && (s.Server == "" || s.CA == "" || s.Signer == "" || s.LogKey == "") {
			t.Fatalf("accepted without required settings: %+v", s)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "f.conf") {
			t.Fatalf("error without the file's name: %v", err)
		}
	})
}
