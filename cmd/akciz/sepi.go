package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
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

// sepiLang is env in the language of --lang, looked for before the flags are parsed so that the help and
// flag errors speak it.
func sepiLang(env *environment, args []string) *environment {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--lang" || args[i] == "-lang" {
			env = withLang(env, args[i+1])
		}
	}
	return env
}

func runSepiCheck(ctx context.Context, env *environment, args []string) int {
	env = sepiLang(env, args)
	fs := flag.NewFlagSet("sepi check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	format := fs.String("format", "text", "")
	histDir := fs.String("history", "", "")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintln(env.stdout, env.p.T("sepi.check.help"))
			return 0
		}
		fmt.Fprintln(env.stderr, env.p.T("sepi.check.bad_flag", err.Error()))
		return 2
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
	env = sepiLang(env, args)
	env, name, up, code := parseUpload(env, "sepi import", args,
		uploadKeys{help: "sepi.import.help", badFlag: "sepi.import.bad_flag", oneFile: "sepi.import.one_file"})
	if code >= 0 {
		return code
	}
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
	var reply sepiImportReply
	ans, code := up.send(ctx, env, upload{
		name: name, size: res.Bytes, sha256: res.SHA256, path: sepiImportPath, contentType: "application/xml",
		progress: "sepi.import.progress", readKey: "sepi.check.read", failedKey: "sepi.import.failed",
		answerMax: 4 << 20,
	}, &reply)
	if code >= 0 {
		return code
	}
	digest := hex.EncodeToString(res.SHA256[:])
	switch {
	case ans.status == http.StatusCreated:
		for _, f := range reply.Flags {
			fmt.Fprintf(env.stdout, "%s:%d:%d: %s: %s [%s]\n", name, f.Line, f.Column, env.p.T("common.warning"), f.Message, f.Rule)
		}
		fmt.Fprintln(env.stdout, env.p.T("sepi.import.created", name, res.Number, res.List.Barcodes(), digest))
		return 0
	case ans.status == http.StatusOK && ans.jsonErr == nil && reply.Duplicate:
		fmt.Fprintln(env.stdout, env.p.T("sepi.import.duplicate", name, res.Number, digest))
		return 0
	case ans.status == http.StatusUnprocessableEntity && ans.jsonErr == nil:
		for _, e := range reply.Errors {
			fmt.Fprintf(env.stdout, "%s:%d:%d: %s: %s [%s]\n", name, e.Line, e.Column, env.p.T("common.error"), e.Message, e.Rule)
		}
		if reply.Omitted > 0 {
			fmt.Fprintln(env.stdout, env.p.T("sepi.omitted", reply.Omitted))
		}
		fmt.Fprintln(env.stdout, env.p.T("sepi.import.rejected", name, len(reply.Errors)+reply.Omitted))
		return 1
	}
	return ans.unexpected(env, "sepi.import.http", name, reply.Message)
}
