package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/sepi"
)

// sepiCommands are the sub-commands of `akciz sepi`.
var sepiCommands = newGroup("sepi", "sepi")

func init() {
	register(&command{name: "sepi", summary: "sepi.summary", run: sepiCommands.run})
	sepiCommands.add(&command{name: "check", summary: "sepi.check.summary", run: runSepiCheck})
	sepiCommands.add(&command{name: "import", summary: "sepi.import.summary", run: runSepiImport})
}

// sepiJSON is one file's outcome in --format json.
type sepiJSON struct {
	File     string          `json:"file"`
	Valid    bool            `json:"valid"`
	Number   string          `json:"number"`
	SHA256   string          `json:"sha256"`
	Bytes    int64           `json:"bytes"`
	Barcodes int             `json:"barcodes"`
	Errors   []sepiJSONError `json:"errors"`
	Omitted  int             `json:"omitted"`
	// Flags are barcodes entering again without having left (with --history): warnings, not errors.
	Flags []sepiJSONError `json:"flags"`
}

type sepiJSONError struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

func runSepiCheck(ctx context.Context, env *environment, args []string) int {
	// --lang is looked for first so that the help and flag errors speak it.
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--lang" || args[i] == "-lang" {
			env = withLang(env, args[i+1])
		}
	}
	fs := flag.NewFlagSet("sepi check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	format := fs.String("format", "text", "")
	histDir := fs.String("history", "", "")
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if err == flag.ErrHelp {
				fmt.Fprintln(env.stdout, env.p.T("sepi.check.help"))
				return 0
			}
			fmt.Fprintln(env.stderr, env.p.T("sepi.check.bad_flag", err.Error()))
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintln(env.stderr, env.p.T("sepi.check.bad_format", *format))
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintln(env.stderr, env.p.T("sepi.check.no_file"))
		return 2
	}
	var opt sepi.Options
	if *histDir != "" {
		h, code := sepiHistory(ctx, env, *histDir)
		if code != 0 {
			return code
		}
		opt.History = h
	}
	code := 0
	var all []sepiJSON
	for _, name := range files {
		res, err := sepiCheckFile(ctx, env, name, opt)
		if err != nil {
			fmt.Fprintln(env.stderr, env.p.T("sepi.check.read", name, err.Error()))
			code = 2
			continue
		}
		if !res.Valid() && code == 0 {
			code = 1
		}
		digest := hex.EncodeToString(res.SHA256[:])
		if *format == "json" {
			out := sepiJSON{File: name, Valid: res.Valid(), Number: res.Number, SHA256: digest, Bytes: res.Bytes,
				Errors: []sepiJSONError{}, Omitted: res.Omitted}
			if res.List != nil {
				out.Barcodes = res.List.Barcodes()
			}
			for _, e := range res.Errors {
				out.Errors = append(out.Errors, sepiJSONError{Line: e.Line, Column: e.Col, Rule: e.Rule, Message: sepi.Text(env.p, e.Msg)})
			}
			out.Flags = []sepiJSONError{}
			for _, f := range res.Flags {
				out.Flags = append(out.Flags, sepiJSONError{Line: f.Line, Column: f.Col, Rule: f.Rule(), Message: sepi.Text(env.p, f.Message())})
			}
			all = append(all, out)
			continue
		}
		for _, e := range res.Errors {
			fmt.Fprintln(env.stdout, e.Format(env.p, name))
		}
		if res.Omitted > 0 {
			fmt.Fprintln(env.stdout, env.p.T("sepi.omitted", res.Omitted))
		}
		for _, f := range res.Flags {
			fmt.Fprintln(env.stdout, f.Format(env.p, name))
		}
		if res.Valid() {
			fmt.Fprintln(env.stdout, env.p.T("sepi.check.ok", name, res.Number, res.List.Barcodes(), digest))
		} else {
			fmt.Fprintln(env.stdout, env.p.T("sepi.check.invalid", name, len(res.Errors)+res.Omitted, res.Number, digest))
		}
	}
	if *format == "json" {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		if all == nil {
			all = []sepiJSON{}
		}
		if err := enc.Encode(all); err != nil {
			return 2
		}
	}
	return code
}

// sepiCheckFile checks one file, with a progress bar on a terminal.
func sepiCheckFile(ctx context.Context, env *environment, name string, opt sepi.Options) (*sepi.Result, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if tty, ok := env.stderr.(*os.File); ok && sepiIsTerminal(tty) {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			bar := &sepiProgress{r: f, w: tty, total: st.Size(), label: env.p.T("sepi.progress") + " " + filepath.Base(name)}
			defer bar.clear()
			r = bar
		}
	}
	return sepi.Parse(ctx, r, opt)
}

// sepiHistory reads the lists of a directory into a history; invalid ones are reported and left out.
func sepiHistory(ctx context.Context, env *environment, dir string) (*sepi.Memory, int) {
	names, err := filepath.Glob(filepath.Join(dir, "*.xml"))
	if err == nil {
		if _, err = os.Stat(dir); err != nil {
			names = nil
		}
	}
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("sepi.check.history_read", dir, err.Error()))
		return nil, 2
	}
	h := &sepi.Memory{}
	n := 0
	for _, name := range names {
		res, err := sepiCheckFile(ctx, env, name, sepi.Options{})
		if err != nil {
			fmt.Fprintln(env.stderr, env.p.T("sepi.check.history_read", name, err.Error()))
			return nil, 2
		}
		if res.List == nil {
			fmt.Fprintln(env.stderr, env.p.T("sepi.check.history_bad", dir, name, len(res.Errors)+res.Omitted))
			continue
		}
		h.Add(res.List, res.SHA256)
		n++
	}
	fmt.Fprintln(env.stderr, env.p.T("sepi.check.history_loaded", n, dir))
	return h, 0
}

func sepiIsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// sepiProgress draws "label [=====>    ]  42%  21.0/50.0 MiB" on a terminal as the file is read, at most
// ten times a second.
type sepiProgress struct {
	r     io.Reader
	w     io.Writer
	total int64
	n     int64
	label string
	last  time.Time
	drawn bool
}

func (p *sepiProgress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond || err == io.EOF {
		p.last = now
		p.draw()
	}
	return n, err
}

func (p *sepiProgress) draw() {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.n)/float64(p.total), 1)
	}
	done := int(frac * width)
	bar := strings.Repeat("=", done)
	if done < width {
		bar += ">" + strings.Repeat(" ", width-done-1)
	}
	fmt.Fprintf(p.w, "\r%s [%s] %3d%%  %.1f/%.1f MiB", p.label, bar, int(frac*100), float64(p.n)/(1<<20), float64(p.total)/(1<<20))
	p.drawn = true
}

// clear erases the bar, so that the findings that follow start on a clean line.
func (p *sepiProgress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// sepiImportPath is the server's endpoint for barcode lists (docs/sepi.md, "Import").
const sepiImportPath = "/api/v1/sepi/lists"

// sepiImportReply is the server's JSON answer to an import.
type sepiImportReply struct {
	Number    string          `json:"number"`
	SHA256    string          `json:"sha256"`
	Barcodes  int             `json:"barcodes"`
	Duplicate bool            `json:"duplicate"`
	Errors    []sepiJSONError `json:"errors"`
	Omitted   int             `json:"omitted"`
	Message   string          `json:"message"`
	// Flags are barcodes the server found entering again without having left: the list is accepted.
	Flags []sepiJSONError `json:"flags"`
}

func runSepiImport(ctx context.Context, env *environment, args []string) int {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--lang" || args[i] == "-lang" {
			env = withLang(env, args[i+1])
		}
	}
	fs := flag.NewFlagSet("sepi import", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	server := fs.String("server", "", "")
	certFile := fs.String("cert", "", "")
	keyFile := fs.String("key", "", "")
	caFile := fs.String("ca", "", "")
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if err == flag.ErrHelp {
				fmt.Fprintln(env.stdout, env.p.T("sepi.import.help"))
				return 0
			}
			fmt.Fprintln(env.stderr, env.p.T("sepi.import.bad_flag", err.Error()))
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if len(files) != 1 {
		fmt.Fprintln(env.stderr, env.p.T("sepi.import.one_file"))
		return 2
	}
	u, err := url.Parse(*server)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		fmt.Fprintln(env.stderr, env.p.T("sepi.import.bad_server", *server))
		return 2
	}
	if (*certFile == "") != (*keyFile == "") {
		fmt.Fprintln(env.stderr, env.p.T("sepi.import.cert_key"))
		return 2
	}
	tlsConf, err := sepiTLS(*certFile, *keyFile, *caFile)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("sepi.import.tls", err.Error()))
		return 2
	}
	name := files[0]
	// The list is checked here first: an invalid list is not sent at all.
	res, err := sepiCheckFile(ctx, env, name, sepi.Options{})
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("sepi.check.read", name, err.Error()))
		return 2
	}
	if !res.Valid() {
		for _, e := range res.Errors {
			fmt.Fprintln(env.stdout, e.Format(env.p, name))
		}
		if res.Omitted > 0 {
			fmt.Fprintln(env.stdout, env.p.T("sepi.omitted", res.Omitted))
		}
		fmt.Fprintln(env.stdout, env.p.T("sepi.import.not_sent", name, len(res.Errors)+res.Omitted))
		return 1
	}
	f, err := os.Open(name)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("sepi.check.read", name, err.Error()))
		return 2
	}
	defer f.Close()
	var body io.Reader = f
	if tty, ok := env.stderr.(*os.File); ok && sepiIsTerminal(tty) {
		bar := &sepiProgress{r: f, w: tty, total: res.Bytes, label: env.p.T("sepi.import.progress") + " " + filepath.Base(name)}
		defer bar.clear()
		body = bar
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(u.String(), "/")+sepiImportPath, body)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("sepi.import.failed", err.Error()))
		return 2
	}
	req.ContentLength = res.Bytes
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("Accept-Language", string(env.p.Lang()))
	// RFC 9530: the server checks that it received the bytes we checked.
	req.Header.Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(res.SHA256[:])+":")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf, Proxy: http.ProxyFromEnvironment}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("sepi.import.failed", err.Error()))
		return 2
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	var reply sepiImportReply
	jsonErr := json.Unmarshal(raw, &reply)
	digest := hex.EncodeToString(res.SHA256[:])
	switch {
	case resp.StatusCode == http.StatusCreated:
		for _, f := range reply.Flags {
			fmt.Fprintf(env.stdout, "%s:%d:%d: %s: %s [%s]\n", name, f.Line, f.Column, env.p.T("common.warning"), f.Message, f.Rule)
		}
		fmt.Fprintln(env.stdout, env.p.T("sepi.import.created", name, res.Number, res.List.Barcodes(), digest))
		return 0
	case resp.StatusCode == http.StatusOK && jsonErr == nil && reply.Duplicate:
		fmt.Fprintln(env.stdout, env.p.T("sepi.import.duplicate", name, res.Number, digest))
		return 0
	case resp.StatusCode == http.StatusUnprocessableEntity && jsonErr == nil:
		for _, e := range reply.Errors {
			fmt.Fprintf(env.stdout, "%s:%d:%d: %s: %s [%s]\n", name, e.Line, e.Column, env.p.T("common.error"), e.Message, e.Rule)
		}
		if reply.Omitted > 0 {
			fmt.Fprintln(env.stdout, env.p.T("sepi.omitted", reply.Omitted))
		}
		fmt.Fprintln(env.stdout, env.p.T("sepi.import.rejected", name, len(reply.Errors)+reply.Omitted))
		return 1
	}
	msg := reply.Message
	if jsonErr != nil || msg == "" {
		msg = strings.TrimSpace(string(raw))
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
	}
	fmt.Fprintln(env.stdout, env.p.T("sepi.import.http", name, resp.Status, msg))
	return 1
}

// sepiTLS is the client's TLS: the operator's certificate and key (PEM) for mutual TLS, and the server's
// CA when it is not among the system's roots.
func sepiTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS13}
	if certFile != "" {
		kp, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{kp}
	}
	if caFile != "" {
		pemData, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("%s: no PEM certificate", caFile)
		}
		c.RootCAs = pool
	}
	return c, nil
}
