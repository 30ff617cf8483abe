package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/akciz/akciz/internal/i18n"
)

// maxSettingsSize bounds agent.conf: it is a few dozen lines.
const maxSettingsSize = 64 << 10

// agentSettings are the runtime settings of akciz agent (agent.conf), apart from automation_config.xml:
// where the server is, which keys to use, where the journal lives. The format is "key = value" lines;
// deploy/agent.conf.example documents every key.
type agentSettings struct {
	Server      string // https URL of the Customs Agency's server
	ServerName  string // TLS server name (SNI), when not the URL's host
	CA          string // PEM file of the server's trust anchors
	Signer      string // key source: PEM, PKCS#12 or pkcs11: URI
	SignerCert  string // PEM certificates to add to the signer's chain
	PINFile     string // file holding the PIN of the token or PKCS#12 password
	ClientCert  string // TLS client certificate (PEM); empty: the signing certificate
	ClientKey   string // its key (PEM)
	LogKey      string // the server's log verifier key (note key), or a file holding it
	Journal     string // journal directory
	State       string // state directory
	JournalMax  int64  // bytes
	MaxRecords  int
	MaxBytes    int
	MaxWait     time.Duration
	RetryMax    time.Duration
	SlowRetry   time.Duration
	UnsentAlarm time.Duration
	Metrics     string // loopback host:port, empty: no metrics
	Test        bool   // the site is in testing (чл. 17–20)
	LogLevel    string // debug, info, warn, error
	LogFormat   string // text or json
}

// settingsError is a problem in the settings file, at a line (0: the file as a whole).
type settingsError struct {
	File string
	Line int
	Msg  i18n.Message
}

func (e *settingsError) Error() string { return e.text(i18n.For(i18n.EN)) }

func (e *settingsError) text(p *i18n.Printer) string {
	if e.Line == 0 {
		return e.File + ": " + p.Msg(e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, p.Msg(e.Msg))
}

func defaultSettings() agentSettings {
	return agentSettings{JournalMax: 1 << 30, MaxRecords: 1000, MaxBytes: 4 << 20, MaxWait: 5 * time.Second,
		RetryMax: 5 * time.Minute, SlowRetry: 15 * time.Minute, UnsentAlarm: 24 * time.Hour, LogLevel: "info",
		LogFormat: "text", Journal: "/var/lib/akciz/journal", State: "/var/lib/akciz/state"}
}

// loadSettings reads the settings file at path.
func loadSettings(path string) (*agentSettings, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &settingsError{File: path, Msg: i18n.M("agentcmd.settings.open", err.Error())}
	}
	defer f.Close()
	data := make([]byte, maxSettingsSize+1)
	n, _ := f.Read(data)
	for n < len(data) {
		m, err := f.Read(data[n:])
		n += m
		if err != nil || m == 0 {
			break
		}
	}
	if n > maxSettingsSize {
		return nil, &settingsError{File: path, Msg: i18n.M("agentcmd.settings.too_large", maxSettingsSize)}
	}
	return parseSettings(path, data[:n])
}

// parseSettings reads settings text: "key = value" lines; blank lines and lines starting with # are
// ignored; every key at most once; relative paths are taken from the file's directory.
func parseSettings(name string, data []byte) (*agentSettings, error) {
	if len(data) > maxSettingsSize {
		return nil, &settingsError{File: name, Msg: i18n.M("agentcmd.settings.too_large", maxSettingsSize)}
	}
	s := defaultSettings()
	seen := map[string]int{}
	dir := filepath.Dir(name)
	path := func(v string) string {
		if v == "" || filepath.IsAbs(v) || strings.HasPrefix(v, "pkcs11:") {
			return v
		}
		return filepath.Join(dir, v)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxSettingsSize+1)
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Text()
		if !utf8Valid(raw) {
			return nil, &settingsError{name, line, i18n.M("agentcmd.settings.not_utf8")}
		}
		text := strings.TrimSpace(raw)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		k, v, ok := strings.Cut(text, "=")
		if !ok {
			return nil, &settingsError{name, line, i18n.M("agentcmd.settings.no_equals")}
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if prev, dup := seen[k]; dup {
			return nil, &settingsError{name, line, i18n.M("agentcmd.settings.duplicate", k, prev)}
		}
		seen[k] = line
		bad := func(key string, args ...any) error {
			return &settingsError{name, line, i18n.M(key, append([]any{k}, args...)...)}
		}
		dur := func(dst *time.Duration, min time.Duration) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < min || d > 365*24*time.Hour {
				return bad("agentcmd.settings.bad_duration", v, min.String())
			}
			*dst = d
			return nil
		}
		num := func(dst *int, lo, hi int) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				return bad("agentcmd.settings.bad_number", v, lo, hi)
			}
			*dst = n
			return nil
		}
		var err error
		switch k {
		case "server":
			u, perr := url.Parse(v)
			if perr != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
				return nil, bad("agentcmd.settings.bad_server", v)
			}
			s.Server = strings.TrimSuffix(v, "/")
		case "server-name":
			s.ServerName = v
		case "ca":
			s.CA = path(v)
		case "signer":
			s.Signer = path(v)
		case "signer-cert":
			s.SignerCert = path(v)
		case "pin-file":
			s.PINFile = path(v)
		case "client-cert":
			s.ClientCert = path(v)
		case "client-key":
			s.ClientKey = path(v)
		case "log-key":
			if strings.Count(v, "+") == 2 {
				s.LogKey = v
			} else {
				s.LogKey = path(v)
			}
		case "journal":
			s.Journal = path(v)
		case "state":
			s.State = path(v)
		case "journal-max-mb":
			var mb int
			err = num(&mb, 1, 1<<20)
			s.JournalMax = int64(mb) << 20
		case "batch-max-records":
			err = num(&s.MaxRecords, 1, 10000)
		case "batch-max-bytes":
			err = num(&s.MaxBytes, 1024, 64<<20)
		case "batch-max-wait":
			err = dur(&s.MaxWait, 0)
		case "retry-max":
			err = dur(&s.RetryMax, time.Second)
		case "slow-retry":
			err = dur(&s.SlowRetry, time.Second)
		case "unsent-alarm":
			err = dur(&s.UnsentAlarm, time.Minute)
		case "metrics":
			host, port, perr := net.SplitHostPort(v)
			ip := net.ParseIP(host)
			if perr != nil || port == "" || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
				return nil, bad("agentcmd.settings.bad_metrics", v)
			}
			s.Metrics = v
		case "test":
			b, perr := strconv.ParseBool(v)
			if perr != nil {
				return nil, bad("agentcmd.settings.bad_bool", v)
			}
			s.Test = b
		case "log-level":
			if v != "debug" && v != "info" && v != "warn" && v != "error" {
				return nil, bad("agentcmd.settings.bad_choice", v, "debug, info, warn, error")
			}
			s.LogLevel = v
		case "log-format":
			if v != "text" && v != "json" {
				return nil, bad("agentcmd.settings.bad_choice", v, "text, json")
			}
			s.LogFormat = v
		default:
			return nil, &settingsError{name, line, i18n.M("agentcmd.settings.unknown_key", k)}
		}
		if err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &settingsError{name, line + 1, i18n.M("agentcmd.settings.line_too_long")}
	}
	for _, req := range []struct {
		key string
		val string
	}{{"server", s.Server}, {"ca", s.CA}, {"signer", s.Signer}, {"log-key", s.LogKey}} {
		if req.val == "" {
			return nil, &settingsError{File: name, Msg: i18n.M("agentcmd.settings.missing", req.key)}
		}
	}
	if (s.ClientCert == "") != (s.ClientKey == "") {
		return nil, &settingsError{File: name, Msg: i18n.M("agentcmd.settings.client_pair")}
	}
	return &s, nil
}

func utf8Valid(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
