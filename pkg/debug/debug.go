// Package debug collects what support needs to understand a node, into one
// gzipped tar: the status report, the state journal and install's log, the
// units' state and recent journal lines, the rendered configurations and
// kubeconfigs, the user script's log and result, versions, and the host's
// kernel, mounts, addresses, routes and iptables rules. Every entry is
// redacted before it enters the archive, every entry and command is bounded
// in size and time, and whatever fails or is missing is recorded in the
// archive's index, never fatal: debug is for a node that is not well.
package debug

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/components"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/logging"
)

// Defaults of Deps.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultCommandTimeout = 10 * time.Second
	DefaultStatusTimeout  = 15 * time.Second
	DefaultFileCap        = 8 << 20
	DefaultTotalCap       = 64 << 20
	// JournalLines is how many of each unit's recent journal lines go in.
	JournalLines = 500
	// Parallel is how many sources are collected at once.
	Parallel = 4
)

// Runner runs a command and returns its combined output, written to out
// (which caps it); the error is an *exec.ExitError for a non-zero exit.
type Runner func(ctx context.Context, out *CappedBuffer, name string, args ...string) error

// Deps is what a collection needs, passed in so that a test can use a fake
// root, fake commands and a fake status.
type Deps struct {
	Root host.Root
	// Live says Root is this running host: the commands that ask the host
	// itself (systemctl, journalctl, ip, iptables-save, uname) run only
	// then; on another root they are recorded as skipped.
	Live bool
	// Config is the effective configuration, nil when it could not be
	// loaded (ConfigError says why); its secrets are masked everywhere.
	Config      *config.NodePoolJoin
	ConfigError error
	// Components are the node's parts; the zero value means
	// components.Default().
	Components component.Set
	// Status returns the report of `status -o json`, bounded by ctx; nil
	// records it as skipped.
	Status func(ctx context.Context) ([]byte, error)
	// Version is what `add2tkectl version` prints.
	Version string
	// Run runs commands; nil runs them with os/exec.
	Run Runner
	Now func() time.Time
	Log logrus.FieldLogger

	// Timeout bounds the whole collection; CommandTimeout each command,
	// StatusTimeout the status report.
	Timeout        time.Duration
	CommandTimeout time.Duration
	StatusTimeout  time.Duration
	// FileCap bounds one entry (truncated with a marker), TotalCap all of
	// them: once reached, the sources not yet started are skipped (those
	// in flight, at most Parallel, still add theirs).
	FileCap  int64
	TotalCap int64
}

func (d *Deps) defaults() {
	if d.Components.Agent == nil {
		d.Components = components.Default()
	}
	if d.Run == nil {
		d.Run = execRunner
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = logging.Discard()
	}
	if d.Timeout <= 0 {
		d.Timeout = DefaultTimeout
	}
	if d.CommandTimeout <= 0 {
		d.CommandTimeout = DefaultCommandTimeout
	}
	if d.StatusTimeout <= 0 {
		d.StatusTimeout = DefaultStatusTimeout
	}
	if d.FileCap <= 0 {
		d.FileCap = DefaultFileCap
	}
	if d.TotalCap <= 0 {
		d.TotalCap = DefaultTotalCap
	}
}

// Entry statuses in the index.
const (
	StatusOK       = "ok"
	StatusAbsent   = "absent" // the file is not on this host
	StatusFailed   = "failed" // the command exited non-zero or could not run
	StatusTimedOut = "timed-out"
	StatusSkipped  = "skipped" // not collected: see Error
	StatusOmitted  = "omitted" // deliberately left out: see Error
	StatusError    = "error"   // the file could not be read
)

// Entry is one line of the index: an archive entry, or a source that gave
// none (absent, skipped).
type Entry struct {
	// Name is the entry's path in the archive, "" when it has none.
	Name string `json:"name,omitempty"`
	// Source is the host path or the command line it came from.
	Source string `json:"source"`
	Status string `json:"status"`
	// Size is the entry's size in the archive, after redaction.
	Size int64 `json:"size"`
	// Truncated says the entry was cut to the per-file cap; OriginalSize
	// is then the size of the whole.
	Truncated    bool  `json:"truncated,omitempty"`
	OriginalSize int64 `json:"originalSize,omitempty"`
	// ExitCode and TookMS are a command's.
	ExitCode *int   `json:"exitCode,omitempty"`
	TookMS   int64  `json:"tookMs"`
	Error    string `json:"error,omitempty"`
}

// Index is the archive's index.json.
type Index struct {
	Host      string    `json:"host"`
	Root      string    `json:"root"`
	StartedAt time.Time `json:"startedAt"`
	TookMS    int64     `json:"tookMs"`
	// TimedOut says the whole run reached its timeout.
	TimedOut bool    `json:"timedOut"`
	Entries  []Entry `json:"entries"`
}

// item is one entry collected, before redaction.
type item struct {
	Entry
	data []byte
}

// Result is a collection: its entries, redacted, and the index.
type Result struct {
	Index Index
	items []item
}

// CappedBuffer keeps the first Cap bytes written to it and counts all.
type CappedBuffer struct {
	Cap   int64
	buf   bytes.Buffer
	total int64
}

func (c *CappedBuffer) Write(p []byte) (int, error) {
	c.total += int64(len(p))
	if room := c.Cap - int64(c.buf.Len()); room > 0 {
		c.buf.Write(p[:min(int64(len(p)), room)])
	}
	return len(p), nil
}

// Bytes is what was kept; Total how much was written.
func (c *CappedBuffer) Bytes() []byte { return c.buf.Bytes() }
func (c *CappedBuffer) Total() int64  { return c.total }

func execRunner(ctx context.Context, out *CappedBuffer, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"}
	cmd.WaitDelay = time.Second
	return cmd.Run()
}

// Collect gathers every entry under d.Timeout. It fails only when nothing
// can be collected at all; what one source lacks is in the index.
func Collect(ctx context.Context, d Deps) *Result {
	d.defaults()
	start := d.Now()
	ctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	c := &collector{d: d, ctx: ctx}
	sources := plan(&c.d)
	c.items = make([]*item, len(sources))
	// A few at once: a hung systemd or a slow iptables-save delays the
	// others by no more than its own timeout. Each source keeps its place.
	var wg sync.WaitGroup
	slots := make(chan struct{}, Parallel)
	for i, s := range sources {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			c.collect(i, s)
		}()
	}
	wg.Wait()
	res := &Result{Index: Index{
		Host:      hostname(d),
		Root:      d.Root.Path("/"),
		StartedAt: start.UTC(),
		TimedOut:  ctx.Err() != nil,
	}}
	// Two passes: every token found anywhere is masked everywhere.
	r := NewRedactor(d.Config)
	for _, it := range c.items {
		if it != nil {
			r.Learn(it.data)
		}
	}
	for _, p := range c.items {
		if p == nil {
			continue
		}
		it := *p
		if it.Name != "" {
			it.data = r.Redact(it.data)
			it.Size = int64(len(it.data))
		}
		it.Error = string(r.Redact([]byte(it.Error)))
		it.Source = string(r.Redact([]byte(it.Source)))
		res.items = append(res.items, it)
		res.Index.Entries = append(res.Index.Entries, it.Entry)
	}
	res.Index.TookMS = d.Now().Sub(start).Milliseconds()
	d.Log.WithFields(logrus.Fields{"entries": len(res.items), "took": d.Now().Sub(start).Round(time.Millisecond)}).Debug("debug collected")
	return res
}

// collector holds a collection's progress.
type collector struct {
	d   Deps
	ctx context.Context

	mu    sync.Mutex
	items []*item // by the plan's order; nil for a source with no finding
	total int64
}

// source is one thing to collect: a file, a command or a function.
type source struct {
	name string // the archive entry
	// path is a host file (under the root).
	path string
	// tail keeps a file's end, not its start, when it is over the cap.
	tail bool
	// cmd is a command line; host says it asks the live host.
	cmd  []string
	host bool
	// fn produces the entry in process.
	fn func(ctx context.Context) ([]byte, error)
	// fnSource names fn in the index.
	fnSource string
	timeout  time.Duration
	// optional: absent is no finding (cloud-init's logs on a host without it).
	optional bool
	// omit says why the entry is left out, if it is.
	omit string
}

func (c *collector) put(i int, it item) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total += int64(len(it.data))
	c.items[i] = &it
}

func (c *collector) full() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total >= c.d.TotalCap
}

func (c *collector) collect(i int, s source) {
	e := Entry{Name: s.name, Source: s.fnSource}
	switch {
	case s.path != "":
		e.Source = s.path
	case len(s.cmd) > 0:
		e.Source = strings.Join(s.cmd, " ")
	}
	skip := func(status, why string) {
		e.Name, e.Status, e.Error = "", status, why
		c.put(i, item{Entry: e})
	}
	switch {
	case s.omit != "":
		skip(StatusOmitted, s.omit)
		return
	case c.ctx.Err() != nil:
		skip(StatusSkipped, fmt.Sprintf("the run's timeout (%s) passed before it", c.d.Timeout))
		return
	case c.full():
		skip(StatusSkipped, fmt.Sprintf("the archive reached its total cap (%d bytes)", c.d.TotalCap))
		return
	case s.host && !c.d.Live:
		skip(StatusSkipped, "it asks the running host, and --root is another root")
		return
	}
	start := c.d.Now()
	var data []byte
	switch {
	case s.path != "":
		var err error
		data, e, err = c.readFile(s, e)
		if err != nil {
			if s.optional && e.Status == StatusAbsent {
				return
			}
			e.Name = ""
			if e.Status == "" {
				e.Status = StatusError
			}
			e.Error = err.Error()
			c.put(i, item{Entry: e})
			return
		}
	case len(s.cmd) > 0:
		data, e = c.runCommand(s, e)
	default:
		data, e = c.runFunc(s, e)
	}
	e.TookMS = c.d.Now().Sub(start).Milliseconds()
	if e.Status == "" {
		e.Status = StatusOK
	}
	if len(data) == 0 && e.Status != StatusOK {
		e.Name = ""
	}
	c.put(i, item{Entry: e, data: data})
}

// timeout is the bound of one step: its own, within the run's.
func (c *collector) stepContext(d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		d = c.d.CommandTimeout
	}
	return context.WithTimeout(c.ctx, d)
}

func (c *collector) runCommand(s source, e Entry) ([]byte, Entry) {
	ctx, cancel := c.stepContext(s.timeout)
	defer cancel()
	out := &CappedBuffer{Cap: c.d.FileCap}
	err := c.d.Run(ctx, out, s.cmd[0], s.cmd[1:]...)
	code := 0
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		e.Status, e.Error = StatusTimedOut, fmt.Sprintf("no answer within %s", timeoutOf(s.timeout, c.d.CommandTimeout))
		code = -1
	case errors.As(err, &exit):
		code = exit.ExitCode()
		e.Status, e.Error = StatusFailed, err.Error()
	case err != nil:
		code = -1
		e.Status, e.Error = StatusFailed, err.Error()
	}
	e.ExitCode = &code
	return c.capped(out.Bytes(), out.Total(), false, &e), e
}

func timeoutOf(own, def time.Duration) time.Duration {
	if own > 0 {
		return own
	}
	return def
}

func (c *collector) runFunc(s source, e Entry) ([]byte, Entry) {
	ctx, cancel := c.stepContext(s.timeout)
	defer cancel()
	type answer struct {
		data []byte
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		b, err := s.fn(ctx)
		done <- answer{b, err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-ctx.Done():
		// A function that does not heed its context is left behind, so
		// the run stays bounded.
		e.Status, e.Error = StatusTimedOut, fmt.Sprintf("no answer within %s", timeoutOf(s.timeout, c.d.CommandTimeout))
		return nil, e
	}
	if a.err != nil {
		e.Status, e.Error = StatusFailed, a.err.Error()
	}
	return c.capped(a.data, int64(len(a.data)), false, &e), e
}

// capped cuts data of total size to the per-file cap, whole lines only
// (a secret never straddles the cut), with a marker saying so.
func (c *collector) capped(data []byte, total int64, tail bool, e *Entry) []byte {
	limit := c.d.FileCap
	if total <= limit && int64(len(data)) <= limit {
		return data
	}
	e.Truncated, e.OriginalSize = true, total
	if int64(len(data)) > limit {
		if tail {
			data = data[int64(len(data))-limit:]
		} else {
			data = data[:limit]
		}
	}
	if tail {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		} else {
			data = nil
		}
		marker := fmt.Sprintf("[add2tkectl debug: truncated, the last %d of %d bytes follow]\n", len(data), total)
		return append([]byte(marker), data...)
	}
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	return append(data, fmt.Sprintf("\n[add2tkectl debug: truncated, the first %d of %d bytes above]\n", len(data), total)...)
}
