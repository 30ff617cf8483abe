package ingest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/akciz/akciz/internal/store"
	"github.com/akciz/akciz/internal/wire"
)

// DefaultOrigin is the name of the log (the checkpoint's first line and the note key's name) unless the
// server is told another.
const DefaultOrigin = "customs.bg/akciz/v1"

// The files of the log's key in the data directory.
const (
	KeyFile         = "log.key"  // the note signer key (secret, mode 0600)
	VerifierKeyFile = "log.vkey" // its verifier key, which the agency publishes and agents configure
)

// checkpointEvery is how often a checkpoint is also stored (PutCheckpoint). Storing each one would cost
// a second durable transaction per batch; a checkpoint not stored is no loss, because the tree it signs
// is stored and Ed25519 signatures are deterministic: the same checkpoint can be made again.
const checkpointEvery = time.Second

// Log signs checkpoints of the server's transparency log (docs/protocol.md, "Receipts and the
// transparency log"). The tree itself is in the store; Log keeps the key and the latest checkpoint.
type Log struct {
	origin   string
	signer   note.Signer
	verifier note.Verifier
	vkey     string

	mu      sync.Mutex
	cur     signed // the latest checkpoint made
	stored  int64  // the size of the latest checkpoint stored
	putTime time.Time
	putting bool // a request is storing a checkpoint
}

type signed struct {
	size int64
	note []byte
}

// NewLog makes a Log from a note signer key (note.GenerateKey's skey). The key's name is the origin.
func NewLog(skey string) (*Log, error) {
	sg, err := note.NewSigner(strings.TrimSpace(skey))
	if err != nil {
		return nil, fmt.Errorf("ingest: log key: %w", err)
	}
	// The verifier key is the signer key without its secret part: "PRIVATE+KEY+<name>+<hash>+<key>" has
	// the public key derivable only through ed25519, so it is kept beside it (OpenLog) or rebuilt here.
	vkey, err := verifierKey(skey)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("ingest: log key: %w", err)
	}
	return &Log{origin: sg.Name(), signer: sg, verifier: v, vkey: vkey, stored: -1}, nil
}

// OpenLog reads the log's key from dir, or, on a first start, generates one named origin and writes it
// (KeyFile, mode 0600) with its verifier key (VerifierKeyFile). created says which.
func OpenLog(dir, origin string) (l *Log, created bool, err error) {
	path := filepath.Join(dir, KeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		skey, vkey, err := note.GenerateKey(rand.Reader, origin)
		if err != nil {
			return nil, false, fmt.Errorf("ingest: generate log key: %w", err)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, false, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, false, fmt.Errorf("ingest: %w", err)
		}
		_, werr := f.WriteString(skey + "\n")
		if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
			return nil, false, fmt.Errorf("ingest: write %s: %w", path, err)
		}
		if err := os.WriteFile(filepath.Join(dir, VerifierKeyFile), []byte(vkey+"\n"), 0o644); err != nil {
			return nil, false, fmt.Errorf("ingest: %w", err)
		}
		l, err := NewLog(skey)
		return l, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("ingest: %w", err)
	}
	l, err = NewLog(string(b))
	if err != nil {
		return nil, false, fmt.Errorf("ingest: %s: %w", path, err)
	}
	return l, false, nil
}

// verifierKey derives the verifier key of a note signer key.
func verifierKey(skey string) (string, error) {
	// skey is "PRIVATE+KEY+<name>+<hash>+<base64(alg ‖ seed)>".
	parts := strings.SplitN(strings.TrimSpace(skey), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("ingest: log key: not a note signer key")
	}
	return ed25519VerifierKey(parts[2], parts[4])
}

// Origin is the log's name.
func (l *Log) Origin() string { return l.origin }

// VerifierKey is the note verifier key of the log (what agents and officers configure).
func (l *Log) VerifierKey() string { return l.vkey }

// Verifiers gives the log's verifier as a note.Verifiers, for wire.Receipt.Verify.
func (l *Log) Verifiers() note.Verifiers { return note.VerifierList(l.verifier) }

// Check makes sure the stored tree still has the root of the latest stored checkpoint: a log whose
// history was rewritten (a restored old backup, a tampered database) must not be signed any further.
func (l *Log) Check(ctx context.Context, s store.Store) error {
	cp, err := s.LatestCheckpoint(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c, err := wire.OpenCheckpoint(cp.Note, l.Verifiers())
	if err != nil {
		return fmt.Errorf("ingest: the stored checkpoint of size %d does not verify with the log key: %w", cp.Size, err)
	}
	size, err := s.TreeSize(ctx)
	if err != nil {
		return err
	}
	if size < c.Size {
		return fmt.Errorf("ingest: the log has %d leaves, fewer than its checkpoint's %d", size, c.Size)
	}
	root, err := tlog.TreeHash(c.Size, store.HashReader(ctx, s))
	if err != nil {
		return err
	}
	if root != c.Root {
		return fmt.Errorf("ingest: the log's tree of size %d is not the one its checkpoint signed", c.Size)
	}
	return nil
}

// checkpoint gives a signed checkpoint whose tree has at least atLeast leaves: the latest one if it
// does, else a new one of the tree as it is now.
func (l *Log) checkpoint(ctx context.Context, s store.Store, atLeast int64, now time.Time) (signed, error) {
	cp, put, err := l.make(ctx, s, atLeast, now)
	if err != nil {
		return signed{}, err
	}
	if put {
		// Stored outside the lock: the store's writer may be busy with batches, and receipts must not
		// wait for it. A failure costs nothing but this copy (the next one is stored instead).
		err := s.PutCheckpoint(ctx, store.Checkpoint{Size: cp.size, Note: cp.note})
		l.mu.Lock()
		l.putting = false
		if err == nil && cp.size > l.stored {
			l.stored = cp.size
		}
		l.mu.Unlock()
		if err != nil {
			return cp, &notStoredError{err: err}
		}
	}
	return cp, nil
}

// notStoredError is a checkpoint made and signed but not stored: the checkpoint is good (its tree is
// stored, and Ed25519 signs it again identically), only the store's copy is missing. The caller logs it
// and answers with the checkpoint.
type notStoredError struct{ err error }

func (e *notStoredError) Error() string { return "ingest: store checkpoint: " + e.err.Error() }
func (e *notStoredError) Unwrap() error { return e.err }

// make gives the latest checkpoint if it has atLeast leaves, else signs the tree as it is now; put says
// the caller is to store it.
func (l *Log) make(ctx context.Context, s store.Store, atLeast int64, now time.Time) (cp signed, put bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur.note != nil && l.cur.size >= atLeast {
		return l.cur, false, nil
	}
	size, err := s.TreeSize(ctx)
	if err != nil {
		return signed{}, false, err
	}
	if size < atLeast {
		return signed{}, false, fmt.Errorf("ingest: the log has %d leaves, want %d", size, atLeast)
	}
	root, err := tlog.TreeHash(size, store.HashReader(ctx, s))
	if err != nil {
		return signed{}, false, fmt.Errorf("ingest: tree hash: %w", err)
	}
	b, err := wire.SignCheckpoint(wire.Checkpoint{Origin: l.origin, Size: size, Root: root}, l.signer)
	if err != nil {
		return signed{}, false, err
	}
	l.cur = signed{size: size, note: b}
	if !l.putting && size > l.stored && now.Sub(l.putTime) >= checkpointEvery {
		l.putting, l.putTime = true, now
		return l.cur, true, nil
	}
	return l.cur, false, nil
}

// flush stores the latest checkpoint if it is not stored yet (at shutdown).
func (l *Log) flush(ctx context.Context, s store.Store) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur.note == nil || l.cur.size <= l.stored {
		return nil
	}
	if err := s.PutCheckpoint(ctx, store.Checkpoint{Size: l.cur.size, Note: l.cur.note}); err != nil {
		return err
	}
	l.stored = l.cur.size
	return nil
}

// receipt makes the receipt of a stored batch: the latest checkpoint (one that includes it), the
// inclusion proof, and, when from is a smaller tree size the agent saw, the consistency proof from it.
// With a *notStoredError the receipt is given too.
func (l *Log) receipt(ctx context.Context, s store.Store, b store.StoredBatch, from int64, now time.Time) (*wire.Receipt, error) {
	// The checkpoint must cover the batch and the tree the agent saw (from): one smaller than from (this
	// process's latest lags when another server, or this one before a restart, signed a larger one) would
	// leave the agent without a consistency proof, as if the log had been rolled back.
	want := b.Index + 1
	if from > want {
		size, err := s.TreeSize(ctx)
		if err != nil {
			return nil, err
		}
		want = max(want, min(from, size))
	}
	cp, err := l.checkpoint(ctx, s, want, now)
	var notStored *notStoredError
	if errors.As(err, &notStored) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	hr := store.HashReader(ctx, s)
	incl, err := tlog.ProveRecord(cp.size, b.Index, hr)
	if err != nil {
		return nil, fmt.Errorf("ingest: inclusion proof: %w", err)
	}
	r := &wire.Receipt{Format: wire.ReceiptFormat, Version: wire.Version, Device: b.Device,
		First: uint64(b.First), Last: uint64(b.Last), Batch: wire.Hash(b.Digest), Received: b.ReceivedAt.UTC().Truncate(time.Millisecond),
		Index: b.Index, Checkpoint: string(cp.note), Inclusion: wire.Hashes(incl)}
	// A from beyond the tree is a claim the log never made (or a rollback): no proof can be given, and
	// the agent's Receipt.Verify then reports the log as inconsistent.
	if from > 0 && from < cp.size {
		p, err := tlog.ProveTree(cp.size, from, hr)
		if err != nil {
			return nil, fmt.Errorf("ingest: consistency proof: %w", err)
		}
		r.ConsistencyFrom, r.Consistency = from, wire.Hashes(p)
	}
	if notStored != nil {
		return r, notStored // the receipt is good: see notStoredError
	}
	return r, nil
}

func ed25519VerifierKey(name, key string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(b) != 1+ed25519.SeedSize || b[0] != 1 {
		return "", errors.New("ingest: log key: not an Ed25519 note key")
	}
	pub := ed25519.NewKeyFromSeed(b[1:]).Public().(ed25519.PublicKey)
	return note.NewEd25519VerifierKey(name, pub)
}
