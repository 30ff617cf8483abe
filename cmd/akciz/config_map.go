package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/akciz/akciz/internal/config"
	"github.com/akciz/akciz/internal/modbusmap"
	"github.com/akciz/akciz/internal/report"
)

func init() {
	registerConfig(&command{name: "map", summary: "modbusmap.cli.summary", run: runConfigMap})
}

// mapNow is the clock of `config map` when neither --generated nor SOURCE_DATE_EPOCH says when; tests
// replace it.
var mapNow = time.Now

// runConfigMap is `akciz config map [flags] FILE`: the Modbus map of чл. 35, ал. 4–5 as CSV, XLSX, HTML
// or PDF.
func runConfigMap(_ context.Context, env *environment, args []string) int {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--lang" || args[i] == "-lang" {
			env = withLang(env, args[i+1])
		}
	}
	fs := flag.NewFlagSet("config map", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	format := fs.String("format", "", "")
	out := fs.String("o", "", "")
	generated := fs.String("generated", "", "")
	sep := fs.String("sep", ";", "")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fmt.Fprintln(env.stdout, env.p.T("modbusmap.cli.help"))
			return 0
		}
		fmt.Fprintln(env.stderr, env.p.T("modbusmap.cli.bad_flag", err.Error()))
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(env.stderr, env.p.T("modbusmap.cli.args"))
		return 2
	}
	f := *format
	if f == "" {
		f = strings.TrimPrefix(strings.ToLower(filepath.Ext(*out)), ".")
		if f != "xlsx" && f != "pdf" && f != "html" && f != "htm" {
			f = "csv"
		}
		if f == "htm" {
			f = "html"
		}
	}
	var render func(io.Writer, *report.Document) error
	switch f {
	case "csv":
		var o report.CSVOptions
		switch *sep {
		case ";":
			o = report.ExcelBG
		case ",":
			o = report.CSVOptions{Comma: ',', Decimal: '.'}
		case "tab", "\t":
			o = report.CSVOptions{Comma: '\t', Decimal: ','}
		default:
			fmt.Fprintln(env.stderr, env.p.T("modbusmap.cli.bad_sep", *sep))
			return 2
		}
		render = func(w io.Writer, d *report.Document) error { return report.CSV(w, d, o) }
	case "xlsx":
		render = report.XLSX
	case "html":
		render = report.HTML
	case "pdf":
		render = report.PDF
	default:
		fmt.Fprintln(env.stderr, env.p.T("modbusmap.cli.bad_format", f))
		return 2
	}
	when, err := mapTime(*generated)
	if err != nil {
		fmt.Fprintln(env.stderr, env.p.T("modbusmap.cli.bad_time", err.flag, err.value))
		return 2
	}
	if *out == "" && (f == "xlsx" || f == "pdf") && isTerminal(env.stdout) {
		fmt.Fprintln(env.stderr, env.p.T("modbusmap.cli.binary_to_terminal"))
		return 2
	}

	path := fs.Arg(0)
	data, rerr := readConfigFile(path)
	if rerr != nil {
		fmt.Fprintln(env.stderr, env.p.T("modbusmap.cli.failed", path, rerr.Error()))
		return 1
	}
	cfg, ds := config.Parse(path, data)
	if ds.HasErrors() {
		for _, d := range ds.Errors() {
			fmt.Fprintln(env.stderr, d.Format(env.p))
		}
		fmt.Fprintln(env.stderr, env.p.T("modbusmap.cli.invalid", path))
		return 1
	}
	doc := modbusmap.Build(cfg, modbusmap.Options{
		Lang:      env.p.Lang(),
		FileName:  filepath.Base(path),
		File:      data,
		Generated: when,
	})
	// The whole map is made before anything is written, so that a failure leaves no partial file.
	var buf bytes.Buffer
	if err := render(&buf, doc); err != nil {
		fmt.Fprintln(env.stderr, env.p.T("modbusmap.cli.failed", path, err.Error()))
		return 1
	}
	if *out == "" {
		if _, err := env.stdout.Write(buf.Bytes()); err != nil {
			fmt.Fprintln(env.stderr, env.p.T("modbusmap.cli.failed", "stdout", err.Error()))
			return 1
		}
		return 0
	}
	if err := writeFileAtomic(*out, buf.Bytes()); err != nil {
		fmt.Fprintln(env.stderr, env.p.T("modbusmap.cli.failed", *out, err.Error()))
		return 1
	}
	fmt.Fprintln(env.stdout, env.p.T("modbusmap.cli.wrote", *out, strings.ToUpper(f)))
	return 0
}

type timeFlagError struct{ flag, value string }

// mapTime is when the map is made: --generated, else SOURCE_DATE_EPOCH (the reproducible-builds
// convention, seconds since 1970), else now.
func mapTime(generated string) (time.Time, *timeFlagError) {
	if generated != "" {
		for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
			if t, err := time.ParseInLocation(layout, generated, time.Local); err == nil {
				return t, nil
			}
		}
		return time.Time{}, &timeFlagError{"--generated", generated}
	}
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, &timeFlagError{"SOURCE_DATE_EPOCH", s}
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return mapNow().Truncate(time.Second), nil
}

// readConfigFile reads at most config.MaxFileSize bytes of path; a larger file is for config.Parse to
// refuse, with the message it gives.
func readConfigFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, config.MaxFileSize+1))
}

// writeFileAtomic writes data to a temporary file beside path and renames it over path, so that a
// reader never sees half a map.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// isTerminal reports whether w is a terminal, where a binary file would only garble the screen.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
