package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// server serves a directory as a COS bucket would: presigned-URL checks,
// Range, ETag, If-Range and HEAD, plus fault injection and byte counters
// for tests.
type server struct {
	dir       string
	secretID  string
	secretKey string
	anonymous bool // serve unsigned requests, like a public-read bucket
	admin     bool // expose /_faults and /_stats
	now       func() time.Time

	mu     sync.Mutex
	faults []*Fault
	stats  map[string]*PathStats
}

// Fault is one injected failure. It applies to the requests for Path (every
// path when empty), Times times (every request when 0).
type Fault struct {
	Path  string `json:"path,omitempty"`
	Times int    `json:"times,omitempty"`
	// Status answers with this HTTP status (e.g. 503, 429) instead of the object.
	Status int `json:"status,omitempty"`
	// ResetAfter resets the TCP connection (RST) after this many body bytes.
	ResetAfter int64 `json:"resetAfter,omitempty"`
	// ResetEvery resets the connection once at each multiple of this many
	// bytes of the object's offset, the first time a response crosses it:
	// a link that drops every N bytes of progress.
	ResetEvery int64 `json:"resetEvery,omitempty"`
	// TruncateAfter ends the response cleanly (FIN) after this many body
	// bytes, short of its Content-Length.
	TruncateAfter int64 `json:"truncateAfter,omitempty"`
	// Rate limits the body to this many bytes per second.
	Rate int64 `json:"rate,omitempty"`
	// Corrupt flips bytes of the body (same length, wrong content).
	Corrupt bool `json:"corrupt,omitempty"`
	// Stall holds the body for this long (a duration such as "10s") once
	// StallAfter body bytes are sent: a link that goes silent, then recovers.
	Stall      string `json:"stall,omitempty"`
	StallAfter int64  `json:"stallAfter,omitempty"`
	// For bounds the fault in time (a duration such as "30s" from when it is
	// set): a mirror that answers 503 for the first half minute of a boot.
	For string `json:"for,omitempty"`

	resetDone map[int64]bool
	until     time.Time
}

// stall is how long the fault holds the body (0 for none).
func (f *Fault) stall() (time.Duration, error) {
	if f.Stall == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(f.Stall)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("stall %q is not a duration such as \"10s\"", f.Stall)
	}
	return d, nil
}

// PathStats counts what the server answered for one path.
type PathStats struct {
	Requests int            `json:"requests"`
	Bytes    int64          `json:"bytes"`
	Status   map[string]int `json:"status"`
}

func newServer(dir, secretID, secretKey string) *server {
	return &server{dir: dir, secretID: secretID, secretKey: secretKey, now: time.Now,
		stats: map[string]*PathStats{}}
}

type connKey struct{}

// connContext remembers each request's connection so that a fault can reset it.
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.admin && strings.HasPrefix(r.URL.Path, "/_") {
		s.serveAdmin(w, r)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	status, n := s.serveObject(w, r, p)
	s.count(p, status, n)
}

func (s *server) count(p string, status int, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats[p]
	if st == nil {
		st = &PathStats{Status: map[string]int{}}
		s.stats[p] = st
	}
	st.Requests++
	st.Bytes += n
	st.Status[strconv.Itoa(status)]++
}

func (s *server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.URL.Path == "/_faults" && r.Method == http.MethodPost:
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var list []*Fault
		if err := json.Unmarshal(body, &list); err != nil {
			var one Fault
			if err := json.Unmarshal(body, &one); err != nil {
				http.Error(w, "fault: "+err.Error(), http.StatusBadRequest)
				return
			}
			list = []*Fault{&one}
		}
		for _, f := range list {
			if _, err := f.stall(); err != nil {
				http.Error(w, "fault: "+err.Error(), http.StatusBadRequest)
				return
			}
			if f.For != "" {
				d, err := time.ParseDuration(f.For)
				if err != nil || d <= 0 {
					http.Error(w, fmt.Sprintf("fault: for %q is not a duration such as \"30s\"", f.For), http.StatusBadRequest)
					return
				}
				f.until = s.now().Add(d)
			}
		}
		s.faults = append(s.faults, list...)
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/_faults" && r.Method == http.MethodDelete:
		s.faults = nil
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/_faults":
		writeJSON(w, s.faults)
	case r.URL.Path == "/_stats" && r.Method == http.MethodDelete:
		s.stats = map[string]*PathStats{}
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/_stats":
		writeJSON(w, s.stats)
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// takeFaults returns the faults that apply to this request and uses up one
// of each one's times.
func (s *server) takeFaults(p string) []*Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Fault
	kept := s.faults[:0]
	now := s.now()
	for _, f := range s.faults {
		if !f.until.IsZero() && !now.Before(f.until) {
			continue // its time is up
		}
		if f.Path != "" && f.Path != p {
			kept = append(kept, f)
			continue
		}
		out = append(out, f)
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				continue
			}
		}
		kept = append(kept, f)
	}
	s.faults = kept
	return out
}

func (s *server) serveObject(w http.ResponseWriter, r *http.Request, p string) (int, int64) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return writeCOSError(w, r, &cosError{http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource."}), 0
	}
	if (s.secretID != "" && !s.anonymous) || authParams(r) != nil {
		if e := verify(r, s.secretID, s.secretKey, s.now()); e != nil {
			return writeCOSError(w, r, e), 0
		}
	}
	faults := s.takeFaults(p)
	for _, f := range faults {
		if f.Status != 0 {
			return writeCOSError(w, r, &cosError{f.Status, "InternalError", "injected fault"}), 0
		}
	}
	f, err := os.Open(filepath.Join(s.dir, filepath.FromSlash(p)))
	if err != nil {
		return writeCOSError(w, r, errNoKey), 0
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return writeCOSError(w, r, errNoKey), 0
	}
	size := st.Size()
	etag := fmt.Sprintf(`"%x-%x"`, size, st.ModTime().UnixNano())
	lastMod := st.ModTime().UTC().Format(http.TimeFormat)
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Last-Modified", lastMod)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Server", "tencent-cos")

	start, end, status := int64(0), size, http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" {
		ir := r.Header.Get("If-Range")
		if ir == "" || ir == etag || ir == lastMod {
			a, b, ok := parseRange(rg, size)
			if !ok {
				h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
				return writeCOSError(w, r, &cosError{http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable"}), 0
			}
			start, end, status = a, b, http.StatusPartialContent
			h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, size))
		}
	}
	h.Set("Content-Length", strconv.FormatInt(end-start, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return status, 0
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return status, 0
	}
	if len(faults) == 0 {
		// The plain path: sendfile through the ResponseWriter.
		n, _ := io.CopyN(w, f, end-start)
		return status, n
	}
	return status, s.sendWithFaults(w, r, f, start, end, faults)
}

// sendWithFaults copies [start,end) of f, applying the faults.
func (s *server) sendWithFaults(w http.ResponseWriter, r *http.Request, f *os.File, start, end int64, faults []*Fault) int64 {
	stop := end       // where the body ends early
	reset := true     // how: RST or FIN
	var rate int64    // bytes per second
	corrupt := false  // flip bytes
	var everyAt int64 // offset reset by a ResetEvery fault
	var every *Fault
	stallAt, stallFor := int64(-1), time.Duration(0) // offset of a stall, and its length
	for _, ft := range faults {
		if d, _ := ft.stall(); d > 0 && start+ft.StallAfter < stop {
			stallAt, stallFor = start+ft.StallAfter, d
		}
		if ft.ResetAfter > 0 && start+ft.ResetAfter < stop {
			stop, reset = start+ft.ResetAfter, true
		}
		if ft.TruncateAfter > 0 && start+ft.TruncateAfter < stop {
			stop, reset = start+ft.TruncateAfter, false
		}
		if ft.ResetEvery > 0 {
			s.mu.Lock()
			for m := (start/ft.ResetEvery + 1) * ft.ResetEvery; m < stop; m += ft.ResetEvery {
				if !ft.resetDone[m] {
					stop, reset, everyAt, every = m, true, m, ft
					break
				}
			}
			s.mu.Unlock()
		}
		if ft.Rate > 0 {
			rate = ft.Rate
		}
		corrupt = corrupt || ft.Corrupt
	}
	chunk := int64(64 << 10)
	if rate > 0 && rate/10 < chunk {
		chunk = max(rate/10, 1)
	}
	buf := make([]byte, chunk)
	began := time.Now()
	var sent int64
	for off := start; off < stop; {
		if off >= stallAt && stallFor > 0 {
			_ = http.NewResponseController(w).Flush()
			select {
			case <-time.After(stallFor):
			case <-r.Context().Done():
				return sent
			}
			stallFor, began = 0, began.Add(stallFor)
		}
		n := min(chunk, stop-off)
		if stallFor > 0 && off < stallAt {
			n = min(n, stallAt-off)
		}
		m, err := io.ReadFull(f, buf[:n])
		if m > 0 {
			if corrupt {
				buf[0] ^= 0xff
			}
			if _, werr := w.Write(buf[:m]); werr != nil {
				return sent
			}
			sent += int64(m)
			off += int64(m)
		}
		if err != nil {
			return sent
		}
		if rate > 0 {
			_ = http.NewResponseController(w).Flush()
			due := began.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))
			select {
			case <-time.After(time.Until(due)):
			case <-r.Context().Done():
				return sent
			}
		}
	}
	if stop == end {
		return sent
	}
	if every != nil {
		s.mu.Lock()
		if every.resetDone == nil {
			every.resetDone = map[int64]bool{}
		}
		every.resetDone[everyAt] = true
		s.mu.Unlock()
	}
	_ = http.NewResponseController(w).Flush()
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		if tc, ok := c.(*net.TCPConn); ok && reset {
			// Cut the link only once the peer has the bytes counted as
			// sent, so that /_stats measures the client, not TCP buffers.
			waitSent(tc, 2*time.Second)
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
	return sent
}

// waitSent waits until the socket's send queue is empty (every byte
// acknowledged by the peer), or for at most d.
func waitSent(tc *net.TCPConn, d time.Duration) {
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		queued := 0
		_ = raw.Control(func(fd uintptr) {
			queued, err = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
		})
		if err != nil || queued == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// parseRange reads a single byte range "bytes=a-b", "bytes=a-" or
// "bytes=-n" and returns it as [start,end).
func parseRange(h string, size int64) (int64, int64, bool) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, 0, false
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size, size > 0
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 || start >= size {
		return 0, 0, false
	}
	end := size
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < start {
			return 0, 0, false
		}
		end = min(e+1, size)
	}
	return start, end, true
}

type xmlError struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource"`
	RequestID string   `xml:"RequestId"`
}

func writeCOSError(w http.ResponseWriter, r *http.Request, e *cosError) int {
	body, _ := xml.MarshalIndent(xmlError{Code: e.Code, Message: e.Message,
		Resource: r.Host + r.URL.Path, RequestID: fmt.Sprintf("%x", time.Now().UnixNano())}, "", "\t")
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Server", "tencent-cos")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(body)))
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		_, _ = io.WriteString(w, xml.Header)
		_, _ = w.Write(body)
	}
	return e.Status
}
