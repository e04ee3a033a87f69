package artifact

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Progress reports artifacts as they are fetched.
type Progress interface {
	// Begin starts reporting one artifact.
	Begin(a Artifact) Bar
	// Wait flushes the report after the last artifact is done.
	Wait()
	// Writer is where other lines (log lines, warnings) go while the report
	// is on screen: above the bars on a terminal, so no stale copy of the
	// bars is left behind each line.
	Writer() io.Writer
}

// Bar reports one artifact.
type Bar interface {
	// SetCurrent reports how many bytes are verified on disk so far.
	SetCurrent(n int64)
	// Done ends the report.
	Done(r Result)
}

// Result is how one artifact ended.
type Result struct {
	CacheHit bool
	Fetched  int64 // bytes received in this run
	Err      error
}

// NewProgress returns mpb progress bars on w when bars is true (w is a
// terminal), otherwise one plain line per artifact at start and at end,
// which reads well in Ansible and cloud-init logs.
func NewProgress(w io.Writer, bars bool) Progress {
	if bars {
		// Auto refresh: mpb flushes the lines its Write takes only when it
		// renders, and without it renders nothing on an output it does not
		// take for a terminal (a line written then was lost).
		return &barProgress{out: w, p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond), mpb.WithAutoRefresh())}
	}
	return &lineProgress{w: w}
}

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func begin(p Progress, a Artifact) Bar {
	if p == nil {
		return nopBar{}
	}
	return p.Begin(a)
}

type nopBar struct{}

func (nopBar) SetCurrent(int64) {}
func (nopBar) Done(Result)      {}

// HumanBytes formats a size in binary units.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

type lineProgress struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineProgress) printf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, a...)
}

func (l *lineProgress) Begin(a Artifact) Bar {
	l.printf("artifact %s %s %s/%s: fetching %s\n", a.Name, a.Version, a.OS, a.Arch, HumanBytes(a.Size))
	return &lineBar{l: l, a: a, start: time.Now()}
}

func (l *lineProgress) Wait() {}

func (l *lineProgress) Writer() io.Writer { return lockedWriter{l} }

// lockedWriter keeps other lines from interleaving with the report's.
type lockedWriter struct{ l *lineProgress }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	return w.l.w.Write(b)
}

type lineBar struct {
	l     *lineProgress
	a     Artifact
	start time.Time
}

func (b *lineBar) SetCurrent(int64) {}

func (b *lineBar) Done(r Result) {
	d := time.Since(b.start).Round(time.Millisecond)
	switch {
	case r.Err != nil:
		b.l.printf("artifact %s: failed after %s\n", b.a.Name, d)
	case r.CacheHit:
		b.l.printf("artifact %s: ok %s in %s (cache hit)\n", b.a.Name, HumanBytes(b.a.Size), d)
	default:
		b.l.printf("artifact %s: ok %s in %s (downloaded %s)\n", b.a.Name, HumanBytes(b.a.Size), d, HumanBytes(r.Fetched))
	}
}

type barProgress struct {
	p   *mpb.Progress
	out io.Writer
	// active counts bars on screen; mpb flushes the lines it takes at its
	// next refresh, so it takes them only while bars keep it refreshing.
	active atomic.Int32
}

func (p *barProgress) Begin(a Artifact) Bar {
	bar := p.p.AddBar(a.Size,
		mpb.PrependDecorators(
			decor.Name(a.Name, decor.WCSyncSpaceR),
			decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace),
		),
		mpb.AppendDecorators(
			decor.OnComplete(decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace), "done"),
		),
	)
	p.active.Add(1)
	return &mpbBar{b: bar, size: a.Size, active: &p.active}
}

func (p *barProgress) Wait() { p.p.Wait() }

func (p *barProgress) Writer() io.Writer { return barWriter{p} }

// barWriter prints lines above the bars through mpb (at its next refresh),
// and straight to the terminal once the bars are gone.
type barWriter struct{ p *barProgress }

func (w barWriter) Write(b []byte) (int, error) {
	if w.p.active.Load() > 0 {
		if n, err := w.p.p.Write(b); err == nil {
			return n, nil
		}
	}
	return w.p.out.Write(b)
}

type mpbBar struct {
	b      *mpb.Bar
	size   int64
	active *atomic.Int32
	done   sync.Once
}

func (b *mpbBar) SetCurrent(n int64) { b.b.SetCurrent(n) }

func (b *mpbBar) Done(r Result) {
	b.done.Do(func() { b.active.Add(-1) })
	if r.Err != nil {
		b.b.Abort(false)
		return
	}
	b.b.SetCurrent(b.size)
	b.b.SetTotal(-1, true)
}
