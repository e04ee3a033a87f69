package artifact

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/add2tkectl/add2tkectl/pkg/atomicfile"
)

// partial is <cache>/<sha256>.partial while an artifact downloads: the bytes
// received so far, hashed as they are written, so that a resumed download
// needs no second pass and memory stays constant whatever the size.
type partial struct {
	path, final string
	f           *os.File
	h           hash.Hash
	n           int64  // bytes on disk and in h
	etag        string // validator of the bytes on disk, for If-Range
	done        bool
	fresh       bool // a one-shot copy: never kept for a resume
}

// openPartial opens (or creates) the partial file of a, locked, and hashes
// what it already holds, so that a download interrupted by a crash resumes
// too. The lock (flock) is held until finish or discard: two processes
// never write one partial file at once. While another holds it, onWait is
// called once and openPartial waits (until ctx ends); the caller then
// checks whether the other left the verified file.
func openPartial(ctx context.Context, cacheDir string, a Artifact, fresh bool, onWait func()) (*partial, error) {
	p := &partial{
		path:  filepath.Join(cacheDir, a.SHA256+".partial"),
		final: filepath.Join(cacheDir, a.SHA256),
		h:     sha256.New(),
		fresh: fresh,
	}
	var err error
	p.f, err = openLocked(ctx, p.path, onWait)
	if err != nil {
		return nil, err
	}
	if fresh {
		return p, p.reset()
	}
	n, err := io.Copy(p.h, p.f)
	if err != nil {
		p.f.Close()
		return nil, fmt.Errorf("read %s: %w", p.path, err)
	}
	p.n = n
	if n > a.Size {
		return p, p.reset()
	}
	return p, nil
}

// reset empties the partial file.
func (p *partial) reset() error {
	p.n, p.etag = 0, ""
	p.h.Reset()
	if err := p.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", p.path, err)
	}
	_, err := p.f.Seek(0, io.SeekStart)
	return err
}

// copyBufSize is the size of each read buffer; copyBufs of them are in
// flight, so a download holds copyBufs*copyBufSize bytes whatever its size.
// They come from one pool: the artifacts of an install (three downloads at
// once) reuse the same few buffers instead of leaving 4 MiB each for the
// garbage collector (install's peak RSS went from 53.0 to 39.3 MiB, make bench).
const (
	copyBufSize = 256 << 10
	copyBufs    = 4
	// copyMinRead batches small network reads into fewer writes.
	copyMinRead = 128 << 10
)

var copyBufPool = sync.Pool{New: func() any { return new([copyBufSize]byte) }}

// copyFrom appends up to limit bytes of r, hashing them, and reports the
// position to bar. A clean end of r is not an error. Reading the network
// and writing+hashing run in two goroutines so that hashing overlaps the
// transfer (see BenchmarkCopyHash); p.n only counts bytes both on disk and
// in the hash, so a failed copy resumes exactly there.
func (p *partial) copyFrom(r io.Reader, limit int64, bar Bar) (int64, error) {
	free := make(chan []byte, copyBufs)
	bufs := make([]*[copyBufSize]byte, copyBufs)
	for i := range bufs {
		bufs[i] = copyBufPool.Get().(*[copyBufSize]byte)
		free <- bufs[i][:]
	}
	defer func() {
		for _, b := range bufs {
			copyBufPool.Put(b)
		}
	}()
	full := make(chan []byte, copyBufs)
	done := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		var werr error
		for b := range full {
			if werr == nil {
				if _, err := p.f.Write(b); err != nil {
					// Undo a short write so that file and hash agree.
					_ = p.f.Truncate(p.n)
					_, _ = p.f.Seek(p.n, io.SeekStart)
					werr = err // an *os.PathError: it names the file
					failed.Store(true)
				} else {
					p.h.Write(b)
					p.n += int64(len(b))
					bar.SetCurrent(p.n)
				}
			}
			free <- b[:cap(b)]
		}
		done <- werr
	}()
	start := p.n
	var read int64
	var rerr error
	for read < limit && !failed.Load() {
		buf := <-free
		want := min(int64(len(buf)), limit-read)
		n, err := readSome(r, buf[:want], int(min(want, copyMinRead)))
		if n > 0 {
			full <- buf[:n]
			read += int64(n)
		} else {
			free <- buf
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	close(full)
	werr := <-done
	if werr != nil {
		return p.n - start, werr
	}
	return p.n - start, rerr
}

// readSome reads until it has min bytes or r fails; unlike io.ReadAtLeast
// it returns r's own error (io.EOF stays a clean end, a cut body stays
// io.ErrUnexpectedEOF).
func readSome(r io.Reader, buf []byte, min int) (int, error) {
	n := 0
	for n < min {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// lockPoll is how often a locked partial file is tried again.
const lockPoll = 50 * time.Millisecond

// openLocked opens path (creating it) and takes an exclusive flock on it.
// The holder may rename the file into the cache or remove it before it
// lets go, so once locked the open file must still be the one at path;
// otherwise it starts again with the file now there.
func openLocked(ctx context.Context, path string, onWait func()) (*os.File, error) {
	waited := false
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
				break
			}
			if !waited && onWait != nil {
				onWait()
			}
			waited = true
			if err := sleep(ctx, lockPoll); err != nil {
				f.Close()
				return nil, fmt.Errorf("wait for the lock on %s: %w", path, err)
			}
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
		if err1 != nil {
			return nil, err1
		}
		if err2 != nil && !errors.Is(err2, os.ErrNotExist) {
			return nil, err2
		}
	}
}

// finish checks size and sha256 and renames the file into place (fsynced).
// The rename happens before the close that drops the lock, so whoever
// takes the lock next sees the verified file, not a partial one.
func (p *partial) finish(a Artifact) error {
	if p.n != a.Size {
		return &mismatchError{fmt.Errorf("size is %d bytes, the manifest says %d", p.n, a.Size)}
	}
	if got := hex.EncodeToString(p.h.Sum(nil)); got != a.SHA256 {
		return &mismatchError{fmt.Errorf("sha256 is %s, the manifest says %s", got, a.SHA256)}
	}
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", p.path, err)
	}
	if err := os.Rename(p.path, p.final); err != nil {
		return fmt.Errorf("rename into the cache: %w", err)
	}
	p.done = true
	err := atomicfile.SyncDir(filepath.Dir(p.final))
	if cerr := p.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close %s: %w", p.final, cerr)
	}
	return err
}

// discard closes an unfinished partial file, dropping its lock; it is kept
// for a later resume unless it is empty or was a one-shot copy (removed
// while still locked, so no waiter writes to a removed file).
func (p *partial) discard() {
	if p.done {
		return
	}
	if p.n == 0 || p.fresh {
		os.Remove(p.path)
	}
	p.f.Close()
}
