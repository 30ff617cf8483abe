package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/journal"
	"github.com/akciz/akciz/internal/wire"
)

func init() {
	register(&command{name: "verify", summary: "verify.summary", run: runVerify})
}

// verifier carries what `akciz verify` learnt from file to file.
type verifier struct {
	env     *environment
	opts    wire.VerifyOptions
	keys    note.Verifiers // nil: receipts cannot be checked
	tips    map[string]wire.Tip
	batches map[wire.Hash]*wire.Header // by digest, to match receipts
	prevCP  *wire.Checkpoint
	failed  int
}

func runVerify(_ context.Context, env *environment, args []string) int {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--lang" || args[i] == "-lang" {
			env = withLang(env, args[i+1])
		}
	}
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(langFlag{&env}, "lang", "")
	caFile := fs.String("ca", "", "")
	certFile := fs.String("cert", "", "")
	operator := fs.String("operator", "", "")
	cpKey := fs.String("checkpoint-key", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(env.stdout, env.p.T("verify.help"))
			return 0
		}
		fmt.Fprintln(env.stderr, env.p.T("verify.bad_flag", err.Error()))
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(env.stderr, env.p.T("verify.no_file"))
		return 2
	}
	v := &verifier{env: env, tips: map[string]wire.Tip{}, batches: map[wire.Hash]*wire.Header{}}
	v.opts.Operator = *operator
	if *caFile != "" {
		certs, err := readCerts(*caFile)
		if err != nil {
			fmt.Fprintln(env.stderr, env.p.T("verify.bad_ca", *caFile, err.Error()))
			return 2
		}
		v.opts.Roots = x509.NewCertPool()
		for _, c := range certs {
			v.opts.Roots.AddCert(c)
		}
	}
	if *certFile != "" {
		certs, err := readCerts(*certFile)
		if err != nil {
			fmt.Fprintln(env.stderr, env.p.T("verify.bad_cert", *certFile, err.Error()))
			return 2
		}
		v.opts.Cert = certs[0]
	}
	if *cpKey != "" {
		keys, err := checkpointKeys(*cpKey)
		if err != nil {
			fmt.Fprintln(env.stderr, env.p.T("verify.bad_key", err.Error()))
			return 2
		}
		v.keys = keys
	}
	signed := false // a journal's records are not signed one by one: no warning for journals alone
	for _, name := range fs.Args() {
		if st, err := os.Stat(name); err != nil || !st.IsDir() {
			signed = true
		}
	}
	if signed && v.opts.Roots == nil && v.opts.Cert == nil {
		fmt.Fprintln(env.stdout, env.p.T("verify.no_trust"))
	}
	v.run(fs.Args())
	if v.failed > 0 {
		fmt.Fprintln(env.stdout, env.p.T("verify.total_failed", len(fs.Args()), v.failed))
		return 1
	}
	fmt.Fprintln(env.stdout, env.p.T("verify.total_ok", len(fs.Args())))
	return 0
}

// run checks the files: every batch first (each on its own, then their continuity in the order of device
// and record number, whatever the order given), then the receipts in the order given.
func (v *verifier) run(names []string) {
	type decoded struct {
		name string
		h    *wire.Header
	}
	var batches []decoded
	var receipts []string
	for _, name := range names {
		if st, err := os.Stat(name); err == nil && st.IsDir() {
			v.journal(name)
			continue
		}
		switch kind, err := fileKind(name); {
		case err != nil:
			v.fail(name, "", err)
		case kind == "batch":
			if h := v.decode(name); h != nil {
				batches = append(batches, decoded{name, h})
			}
		case kind == "receipts":
			receipts = append(receipts, name)
		default:
			v.failed++
			fmt.Fprintln(v.env.stdout, v.env.p.T("verify.unknown_file", name))
		}
	}
	sort.SliceStable(batches, func(i, j int) bool {
		a, b := batches[i].h, batches[j].h
		return a.Device < b.Device || a.Device == b.Device && a.First < b.First
	})
	for _, d := range batches {
		v.link(d.name, d.h)
	}
	for _, name := range receipts {
		v.receipts(name)
	}
}

// journal checks the journal directory of an ИКУНК as it is on the disk: journal.Read changes nothing in
// it and may read while the agent runs. Every record must decode and continue the chain of one device
// (records are not signed one by one, a batch is: the chain proves their order and integrity from the
// first record kept); damage the agent's recovery would report is named; the receipt kept with the
// acknowledged mark is checked with --checkpoint-key, and the record it acknowledges must be unchanged.
func (v *verifier) journal(name string) {
	var f wire.Follower
	before := v.failed
	c, err := journal.Read(name, nil, func(seq uint64, data []byte) error {
		if _, err := f.Add(data); err != nil {
			v.fail(name, v.env.p.T("verify.where_record", seq), err)
		}
		return nil
	})
	if err != nil {
		v.fail(name, "", err)
		return
	}
	if c.Records == 0 {
		v.failed++
		fmt.Fprintln(v.env.stdout, v.env.p.T("verify.journal_empty", name))
		return
	}
	for _, d := range c.Skipped {
		v.failed++
		fmt.Fprintln(v.env.stdout, v.env.p.T("verify.journal_skipped", name, d.File, d.Offset, d.Length))
	}
	for _, h := range c.HeaderErrors {
		v.failed++
		fmt.Fprintln(v.env.stdout, v.env.p.T("verify.journal_header", name, h))
	}
	if c.AckError != nil {
		v.failed++
		fmt.Fprintln(v.env.stdout, v.env.p.T("verify.journal_ack", name, c.AckError.Error()))
	}
	if c.AckDiffers {
		v.failed++
		fmt.Fprintln(v.env.stdout, v.env.p.T("verify.journal_ack_differs", name, c.Acked))
	}
	if c.TruncatedBytes > 0 {
		// A torn last write (or an append in progress): not an error, the agent cuts it at its next start.
		fmt.Fprintln(v.env.stdout, v.env.p.T("verify.journal_tail", name, c.TruncatedBytes))
	}
	if len(c.Receipt) > 0 {
		v.receipt(name, 1, c.Receipt)
	}
	if v.failed == before {
		fmt.Fprintln(v.env.stdout, v.env.p.T("verify.journal_ok", name, c.Device, c.First, c.Last, c.Records, c.Acked))
	}
}

// fileKind tells a batch (gzip) from receipts (JSON).
func fileKind(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var magic [2]byte
	n, _ := io.ReadFull(f, magic[:])
	b := bytes.TrimLeft(magic[:n], " \t\r\n")
	switch {
	case n == 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return "batch", nil
	case len(b) > 0 && b[0] == '{' || n > 0 && magic[0] <= ' ':
		return "receipts", nil
	}
	return "", nil
}

// decode checks one batch file on its own: format, records, signature, certificate.
func (v *verifier) decode(name string) *wire.Header {
	f, err := os.Open(name)
	if err != nil {
		v.fail(name, "", err)
		return nil
	}
	defer f.Close()
	h, err := wire.DecodeBatch(f, wire.DecodeOptions{Verify: &v.opts}, nil)
	if err != nil {
		v.fail(name, "", err)
		return nil
	}
	return h
}

// link checks that a batch continues the one before it of the same device, and reports it.
func (v *verifier) link(name string, h *wire.Header) {
	where := v.env.p.T("verify.where_batch", h.Device, h.First, h.Last)
	tip, seen := v.tips[h.Device]
	// A device's first batch links to nothing; a later one is checked against the batch before it when
	// that was given too.
	if seen || h.First == 1 {
		if err := tip.Check(h); err != nil {
			v.fail(name, where, err)
			return
		}
	} else {
		fmt.Fprintln(v.env.stdout, v.env.p.T("verify.starts_at", name, h.Device, h.First))
	}
	v.tips[h.Device] = tip.Next(h)
	v.batches[h.Digest()] = h
	leaf, _ := x509.ParseCertificate(h.Certs[0])
	who := leaf.Subject.CommonName
	if eik, ok := wire.OperatorEIK(leaf); ok {
		who = v.env.p.T("verify.signer_eik", who, eik)
	}
	fmt.Fprintln(v.env.stdout, v.env.p.T("verify.batch_ok", name, h.Device, h.First, h.Last, h.Count,
		h.Created.Format(time.DateTime), who, h.Digest().String()))
}

// maxReceiptsFile bounds a file of receipts.
const maxReceiptsFile = 64 << 20

// receipts checks a file of receipts: JSON values one after the other (one a line as the agent stores
// them, or pretty-printed).
func (v *verifier) receipts(name string) {
	f, err := os.Open(name)
	if err != nil {
		v.fail(name, "", err)
		return
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxReceiptsFile+1))
	if err == nil && len(b) > maxReceiptsFile {
		err = fmt.Errorf("larger than %d bytes", maxReceiptsFile)
	}
	if err != nil {
		v.fail(name, "", err)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			return
		} else if err != nil {
			v.fail(name, v.env.p.T("verify.where_receipt", n), &wire.Error{Code: wire.CodeMalformed, Msg: i18n.M("wire.receipt.malformed"), Err: err})
			return
		}
		v.receipt(name, n, raw)
	}
}

func (v *verifier) receipt(name string, n int, raw []byte) {
	where := v.env.p.T("verify.where_receipt", n)
	rc, err := wire.ParseReceipt(raw)
	if err != nil {
		v.fail(name, where, err)
		return
	}
	where = v.env.p.T("verify.where_receipt_batch", n, rc.Device, rc.First, rc.Last)
	if v.keys == nil {
		v.failed++
		fmt.Fprintln(v.env.stdout, v.env.p.T("verify.no_key", name, where))
		return
	}
	h := v.batches[rc.Batch]
	cp, err := rc.Verify(v.keys, h, v.prevCP)
	if err != nil {
		v.fail(name, where, err)
		return
	}
	v.prevCP = &cp
	if h == nil {
		fmt.Fprintln(v.env.stdout, v.env.p.T("verify.receipt_no_batch", name, where, rc.Index, cp.Size, cp.Origin))
	} else {
		fmt.Fprintln(v.env.stdout, v.env.p.T("verify.receipt_ok", name, where, rc.Index, cp.Size, cp.Origin))
	}
}

// fail reports err for a file and a place in it.
func (v *verifier) fail(name, where string, err error) {
	v.failed++
	if where != "" {
		name += " (" + where + ")"
	}
	var we *wire.Error
	if !errors.As(err, &we) {
		fmt.Fprintln(v.env.stdout, v.env.p.T("verify.read_error", name, err.Error()))
		return
	}
	msg := v.env.p.Msg(we.Msg)
	if we.Seq != 0 {
		fmt.Fprintln(v.env.stdout, v.env.p.T("verify.fail_seq", name, we.Code.Title(v.env.p), msg, we.Seq, string(we.Code)))
		return
	}
	fmt.Fprintln(v.env.stdout, v.env.p.T("verify.fail", name, we.Code.Title(v.env.p), msg, string(we.Code)))
}

// readCerts reads the certificates of a PEM (or single DER) file.
func readCerts(name string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, errors.New("no certificate (PEM or DER)")
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// checkpointKeys reads the server's note verifier keys: one a line, given directly or in a file.
func checkpointKeys(s string) (note.Verifiers, error) {
	text := s
	if !strings.Contains(s, "+") || fileExists(s) {
		b, err := os.ReadFile(s)
		if err != nil {
			return nil, err
		}
		text = string(b)
	}
	var vs []note.Verifier
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		vr, err := note.NewVerifier(l)
		if err != nil {
			return nil, err
		}
		vs = append(vs, vr)
	}
	if len(vs) == 0 {
		return nil, errors.New("no key")
	}
	return note.VerifierList(vs...), nil
}

func fileExists(name string) bool {
	st, err := os.Stat(name)
	return err == nil && st.Mode().IsRegular()
}
