package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Reissuer makes the records that Reissue writes: a declaration in place of each range of lost records,
// and the records after a loss again, numbered for their new place in the chain. The journal does not
// know the records' format; the agent's Reissuer speaks the wire protocol (docs/protocol.md,
// records-lost).
type Reissuer interface {
	// Declare returns the record that stands at seq, after the record whose hash is prev, for the records
	// lost (numbered as they were in the damaged journal), and why they are lost.
	Declare(seq uint64, prev [32]byte, lost SeqRange, why string) ([]byte, error)
	// Renumber returns data, a record written for another place in the chain, encoded again for seq
	// after prev. An error makes the record count as lost (it is declared instead).
	Renumber(seq uint64, prev [32]byte, data []byte) ([]byte, error)
	// Restore returns an exact copy, kept outside the journal, of the lost record seq whose predecessor's
	// hash is prev, or false if there is none. The agent keeps the batch in flight: its records may already
	// be on the server, so they must keep their numbers and bytes; a lost one among them is restored from
	// the copy, never declared and renumbered.
	Restore(seq uint64, prev [32]byte) ([]byte, bool)
}

// Reissued says what Reissue did.
type Reissued struct {
	// Declared are the ranges of lost records (numbered as in the damaged journal) for which a declaration
	// now stands in the chain, in order.
	Declared []SeqRange
	// Restored are the ranges of lost records put back, byte for byte, from the copies Reissuer.Restore
	// gave; they keep their numbers.
	Restored []SeqRange
	// Renumbered counts the intact records after the first loss that were encoded again with new numbers;
	// From is the new seq of the first declaration.
	Renumbered int
	From       uint64
	// Err is why the journal could not be reissued (it is then left as it was: a full disk, say). The
	// journal returned is the damaged one and the lost records stay a hole in its chain.
	Err error
}

// The directories Reissue uses beside the journal directory dir: dir+reissueSuffix while the new journal
// is written (the file reissueDone in it says it is whole), dir+oldSuffix for the damaged journal between
// the two renames that put the new one in its place.
const (
	reissueSuffix = ".reissue"
	oldSuffix     = ".damaged"
	reissueDone   = "reissue-complete"
)

// Reissue opens the journal in dir like Open and, when recovery found unacknowledged records lost to disk
// damage in the middle of the chain (Recovery.Lost), writes the journal again so that the chain has no
// hole: the records up to the first loss unchanged, lost records of which the Reissuer keeps an exact
// copy (Reissuer.Restore: the batch in flight) put back unchanged, then for each lost range left one
// declaration record (Reissuer.Declare) at the first lost seq, and every intact record after it renumbered
// (Reissuer.Renumber) so that each names its real predecessor. None of the renumbered seqs was ever sent
// (the sender never sends past a hole, and what it may have sent without a receipt yet is the batch in
// flight, which Restore covers), so no seq anyone saw gets another content. The server then sees the
// loss declared, signed, in its place in the chain, instead of a gap it cannot close.
//
// The new journal is written in a directory beside dir and put in place by two renames; a crash at any
// point leaves either the old journal (the reissue is done again at the next start) or the new one
// (Reissue finishes the renames first). The Recovery returned is the one of the damaged journal, so that
// the caller reports what the disk lost.
func Reissue(dir string, opt Options, r Reissuer) (*Journal, *Recovery, *Reissued, error) {
	if err := opt.normalize(); err != nil {
		return nil, nil, nil, err
	}
	if err := FinishReissue(dir, opt.FS); err != nil {
		return nil, nil, nil, err
	}
	j, rec, err := Open(dir, opt)
	if err != nil || len(rec.Lost) == 0 {
		return j, rec, nil, err
	}
	done, err := j.reissue(dir+reissueSuffix, opt, r)
	if err != nil {
		removeDir(opt.FS, dir+reissueSuffix)
		return j, rec, &Reissued{Err: err}, nil
	}
	if err := j.Close(); err != nil {
		return nil, nil, nil, err
	}
	ferr := finishReissue(opt.FS, dir)
	if ferr != nil && !errors.Is(ferr, errGivenUp) {
		return nil, nil, nil, ferr
	}
	j, _, err = Open(dir, opt)
	if err != nil {
		return nil, nil, nil, err
	}
	if ferr != nil {
		return j, rec, &Reissued{Err: ferr}, nil
	}
	return j, rec, done, nil
}

// reissue writes the new journal into side and marks it complete.
func (j *Journal) reissue(side string, opt Options, r Reissuer) (*Reissued, error) {
	if err := removeDir(j.fs, side); err != nil {
		return nil, err
	}
	j.mu.Lock()
	mark := j.acked
	j.mu.Unlock()
	so := opt
	so.Origin, so.OriginPrev = mark.seq+1, mark.hash
	sj, _, err := Open(side, so)
	if err != nil {
		return nil, err
	}
	defer sj.Close()
	if mark.seq > 0 {
		// The acknowledged mark and its receipt go along: the sender continues the batch chain from it.
		sj.mu.Lock()
		sj.acked = mark
		sj.mu.Unlock()
		if err := sj.writeAck(&mark); err != nil {
			return nil, err
		}
	}
	done := &Reissued{}
	const why = "damaged on disk"
	declare := func(lost SeqRange, why string) error {
		seq, _, err := sj.Append(func(seq uint64, prev [32]byte) ([]byte, error) { return r.Declare(seq, prev, lost, why) })
		if err == nil {
			done.Declared = append(done.Declared, lost)
			if done.From == 0 {
				done.From = seq
			}
		}
		return err
	}
	// verbatim appends data at seq, which it must keep: nothing before it was declared or renumbered.
	verbatim := func(seq uint64, data []byte) error {
		_, _, err := sj.Append(func(ns uint64, _ [32]byte) ([]byte, error) {
			if ns != seq {
				return nil, fmt.Errorf("journal: reissue: record %d would become %d before any loss", seq, ns)
			}
			return data, nil
		})
		return err
	}
	// fill puts the lost records first..last back from Reissuer.Restore as long as it has them and nothing
	// was renumbered yet (a copy holds the record's original number and predecessor), and declares the
	// rest lost.
	fill := func(first, last uint64) error {
		for done.From == 0 && first <= last {
			sj.mu.Lock()
			prev := sj.prev // the hash of the last record appended, or the mark's
			sj.mu.Unlock()
			data, ok := r.Restore(first, prev)
			if !ok {
				break
			}
			if err := verbatim(first, data); err != nil {
				return err
			}
			if n := len(done.Restored); n > 0 && done.Restored[n-1].Last+1 == first {
				done.Restored[n-1].Last = first
			} else {
				done.Restored = append(done.Restored, SeqRange{first, first})
			}
			first++
		}
		if first <= last {
			return declare(SeqRange{first, last}, why)
		}
		return nil
	}
	expected := mark.seq + 1
	err = j.ReadFrom(expected, func(seq uint64, data []byte) error {
		if seq > expected {
			if err := fill(expected, seq-1); err != nil {
				return err
			}
		}
		expected = seq + 1
		if done.From == 0 {
			return verbatim(seq, data)
		}
		var bad error
		_, _, err := sj.Append(func(ns uint64, prev [32]byte) ([]byte, error) {
			b, err := r.Renumber(ns, prev, data)
			bad = err
			return b, err
		})
		if err != nil && bad != nil {
			return declare(SeqRange{seq, seq}, "does not decode: "+bad.Error())
		}
		if err == nil {
			done.Renumbered++
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if last := j.Stats().Last; last >= expected {
		// Lost at the very end (a whole record whose checksum fails in the last segment's tail).
		if err := fill(expected, last); err != nil {
			return nil, err
		}
	}
	if len(done.Declared) == 0 && len(done.Restored) == 0 {
		return nil, errors.New("journal: reissue: recovery reported lost records that reading did not find")
	}
	if err := sj.Sync(); err != nil {
		return nil, err
	}
	if err := writeMarker(j.fs, filepath.Join(side, reissueDone)); err != nil {
		return nil, err
	}
	if err := j.fs.SyncDir(side); err != nil {
		return nil, wrapIO("reissue: sync directory", err)
	}
	return done, sj.Close()
}

// errGivenUp says a reissue could not put the new journal in place and was abandoned.
var errGivenUp = errors.New("journal: reissue given up")

// FinishReissue completes a reissue of the journal in dir that a crash interrupted, or removes one that
// was not complete, and the damaged journal a finished one left behind; fsys nil is the operating system's.
// Reissue does it first; a program that opens its journal with Open and calls Reissue only when Open
// reports lost records must call it before Open, or Open would find (and create) no journal between the
// two renames.
func FinishReissue(dir string, fsys FS) error {
	if fsys == nil {
		fsys = OSFS{}
	}
	if err := finishReissue(fsys, dir); err != nil && !errors.Is(err, errGivenUp) {
		return err
	}
	return nil
}

// finishReissue is FinishReissue.
func finishReissue(fsys FS, dir string) error {
	side, old, parent := dir+reissueSuffix, dir+oldSuffix, filepath.Dir(dir)
	if names, err := fsys.List(side); err == nil {
		complete := false
		for _, n := range names {
			complete = complete || n == reissueDone
		}
		if !complete {
			return removeDir(fsys, side)
		}
		if _, err := fsys.List(dir); err == nil {
			removeDir(fsys, old)
			if err := fsys.Rename(dir, old); err != nil {
				// The journal cannot be moved (its directory is a mount point, say): the reissue is given
				// up and the damaged journal stays in use, its hole reported (Reissued.Err).
				removeDir(fsys, side)
				return fmt.Errorf("%w: %w", errGivenUp, wrapIO("reissue: rename", err))
			}
			if err := fsys.SyncDir(parent); err != nil {
				return wrapIO("reissue: sync directory", err)
			}
		}
		if err := fsys.Rename(side, dir); err != nil {
			return wrapIO("reissue: rename", err)
		}
		if err := fsys.SyncDir(parent); err != nil {
			return wrapIO("reissue: sync directory", err)
		}
		fsys.Remove(filepath.Join(dir, reissueDone)) // ignored by Open if it stays
	}
	if _, err := fsys.List(dir); err == nil {
		// What is left of the damaged journal is in the way of nothing: failing to remove it is no reason
		// not to start (the next start tries again).
		removeDir(fsys, old)
	}
	return nil
}

func writeMarker(fsys FS, path string) error {
	f, err := fsys.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return wrapIO("reissue: marker", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return wrapIO("reissue: marker", err)
	}
	return nil
}

// removeDir removes a directory of files (a journal), if it exists.
func removeDir(fsys FS, dir string) error {
	names, err := fsys.List(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return wrapIO("reissue: remove "+dir, err)
	}
	for _, n := range names {
		if err := fsys.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return wrapIO("reissue: remove "+dir, err)
		}
	}
	if err := fsys.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return wrapIO("reissue: remove "+dir, err)
	}
	return fsys.SyncDir(filepath.Dir(dir))
}
