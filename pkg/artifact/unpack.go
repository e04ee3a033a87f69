package artifact

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// Unpacks unpacks archive artifacts ahead of the plans that take files
// from them: the download phase hands each gzip archive over as soon as it
// is verified, and the runtime phase finds it unpacked. Unpacking
// containerd's (35 MB to 100 MB) and the CNI plugins' archives took 0.52 s,
// the runtime phase's longest step; it now runs while the kubelet and
// kubectl still download. What no plan claims is removed by Close.
type Unpacks struct {
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	jobs   map[string]*unpack // by archive path
	wg     sync.WaitGroup
}

type unpack struct {
	done  chan struct{}
	dir   string
	err   error
	taken bool
}

// NewUnpacks returns an empty set; ctx's end stops what is unpacking.
func NewUnpacks(ctx context.Context) *Unpacks {
	ctx, cancel := context.WithCancel(ctx)
	return &Unpacks{ctx: ctx, cancel: cancel, jobs: map[string]*unpack{}}
}

// UnpackDir is where the archive src is unpacked while its files are
// installed: beside it in the cache, on the cache's filesystem (not
// $TMPDIR, often a small tmpfs), under one name per archive so that what a
// crash leaves behind is replaced by the next run.
func UnpackDir(src string) string {
	return filepath.Join(filepath.Dir(src), "."+filepath.Base(src)+".unpacked")
}

// Start begins unpacking src into UnpackDir(src) when it is a gzip file
// (every archive a plan takes files from is); anything else, or an
// archive already started, is left alone. A nil set does nothing.
func (u *Unpacks) Start(src string) {
	if u == nil || !isGzip(src) {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.jobs[src]; ok || u.ctx.Err() != nil {
		return
	}
	j := &unpack{done: make(chan struct{}), dir: UnpackDir(src)}
	u.jobs[src] = j
	u.wg.Go(func() {
		defer close(j.done)
		j.err = extractTarGz(u.ctx, src, j.dir, DefaultLimits)
	})
}

// Take waits for src's unpacking and hands its directory to the caller,
// who removes it. ok is false when src was not started (or was taken).
func (u *Unpacks) Take(src string) (dir string, ok bool, err error) {
	if u == nil {
		return "", false, nil
	}
	u.mu.Lock()
	j := u.jobs[src]
	if j == nil || j.taken {
		u.mu.Unlock()
		return "", false, nil
	}
	j.taken = true
	u.mu.Unlock()
	<-j.done
	return j.dir, true, j.err
}

// Close stops what is still unpacking and removes every directory no
// plan took (an install that failed, or a runtime already installed).
func (u *Unpacks) Close() {
	if u == nil {
		return
	}
	u.cancel()
	u.wg.Wait()
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, j := range u.jobs {
		if !j.taken {
			_ = os.RemoveAll(j.dir)
		}
	}
	clear(u.jobs)
}

func isGzip(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [2]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && magic == [2]byte{0x1f, 0x8b}
}

// ctxReader ends a read of an archive being unpacked once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
