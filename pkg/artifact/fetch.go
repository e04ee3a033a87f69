package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/logging"
	"github.com/add2tkectl/add2tkectl/pkg/redact"
)

// Fetcher downloads the artifacts of a manifest into a cache keyed by
// sha256. The zero value of every field but CacheDir has a sensible default.
type Fetcher struct {
	// CacheDir is the cache directory (the host root joined with paths.CacheDir).
	CacheDir string
	// Client does the HTTP requests; nil: a client with connect, TLS and
	// response-header timeouts.
	Client *http.Client
	// Parallel is how many artifacts download at once (default 3).
	Parallel int
	// Progress reports each artifact; nil reports nothing.
	Progress Progress
	// Log receives retries and failures, with URLs redacted.
	Log logrus.FieldLogger
	// Retry tunes retries and deadlines.
	Retry Retry
	// Verified, when set, is told of each artifact once it is in the
	// cache, while the others may still download.
	Verified func(Local)

	once sync.Once
}

// Retry is the retry policy of one artifact.
type Retry struct {
	// Attempts is how many failed attempts in a row one URL gets per round
	// before the next URL is tried; for an artifact, an attempt that
	// received bytes resets the count (the next one resumes there), for the
	// manifest nothing does (default 4).
	Attempts int
	// Rounds is how many times the whole URL list is tried (default 2).
	Rounds int
	// Base and Max bound the exponential backoff (defaults 500ms, 15s);
	// each wait is jittered between half and all of it.
	Base, Max time.Duration
	// Deadline bounds one artifact's download (default 30m).
	Deadline time.Duration
	// Stall fails an attempt that received nothing for this long (default 60s).
	Stall time.Duration
	// ManifestDeadline bounds the manifest's fetch, retries included
	// (default 2m): install holds its lock meanwhile.
	ManifestDeadline time.Duration
}

// Local is an artifact verified into the cache.
type Local struct {
	Artifact
	// Path is the verified file in the cache; never a partial file.
	Path string
	// CacheHit says nothing had to be fetched.
	CacheHit bool
}

func (f *Fetcher) client() *http.Client {
	f.once.Do(func() {
		if f.Client == nil {
			f.Client = DefaultClient()
		}
	})
	return f.Client
}

// DefaultClient is an HTTP client for COS: bounded connect, TLS and
// response-header waits (a body may take as long as it needs, watched by
// Retry.Stall), no transparent compression so that byte ranges are exact.
// It takes its proxy from the environment.
func DefaultClient() *http.Client { return NewClient(http.ProxyFromEnvironment) }

// NewClient is DefaultClient with proxy choosing each request's proxy (nil
// for none): the site's proxy, when the site has one.
func NewClient(proxy func(*http.Request) (*url.URL, error)) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:                 proxy,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   8,
		ForceAttemptHTTP2:     true,
		DisableCompression:    true,
	}}
}

func (f *Fetcher) log() logrus.FieldLogger {
	if f.Log != nil {
		return f.Log
	}
	return logging.Discard()
}

func (f *Fetcher) retryPolicy() Retry {
	r := f.Retry
	if r.Attempts <= 0 {
		r.Attempts = 4
	}
	if r.Rounds <= 0 {
		r.Rounds = 2
	}
	if r.Base <= 0 {
		r.Base = 500 * time.Millisecond
	}
	if r.Max <= 0 {
		r.Max = 15 * time.Second
	}
	if r.Deadline <= 0 {
		r.Deadline = 30 * time.Minute
	}
	if r.Stall <= 0 {
		r.Stall = 60 * time.Second
	}
	if r.ManifestDeadline <= 0 {
		r.ManifestDeadline = 2 * time.Minute
	}
	return r
}

// Fetch makes every artifact of m for osName/arch available in the cache
// and returns them by name. A cached artifact is not fetched again. With
// offlineDir set, artifacts come from that directory (named by OfflineName)
// and the network is not used. Relative URLs resolve against manifestURL.
// Failures are *Error (exit 4) or *ExpiredError (exit 5).
func (f *Fetcher) Fetch(ctx context.Context, manifestURL string, m *Manifest, osName, arch string, offlineDir string) (map[string]Local, error) {
	arts, err := m.Select(osName, arch)
	if err != nil {
		return nil, err
	}
	sel := &Manifest{SchemaVersion: m.SchemaVersion, Artifacts: cloneArtifacts(arts)}
	if offlineDir == "" {
		if err := sel.resolve(manifestURL, true); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(f.CacheDir, 0o700); err != nil {
		return nil, &Error{Op: "download", Err: fmt.Errorf("create the cache %s: %w", f.CacheDir, err)}
	}
	uniq, first := byContent(sel.Artifacts)
	par := f.Parallel
	if par <= 0 {
		par = 3
	}
	sem := make(chan struct{}, par)
	locals := make([]Local, len(uniq))
	errs := make([]error, len(uniq))
	var wg sync.WaitGroup
	for i, a := range uniq {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = &Error{Artifact: a.Name, Op: "download", Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			locals[i], errs[i] = f.fetchOne(ctx, a, offlineDir)
			if errs[i] == nil && f.Verified != nil {
				f.Verified(locals[i])
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := make(map[string]Local, len(sel.Artifacts))
	for _, a := range sel.Artifacts {
		l := locals[first[a.SHA256]]
		out[a.Name] = Local{Artifact: a, Path: l.Path, CacheHit: l.CacheHit}
	}
	return out, nil
}

// byContent plans one fetch per sha256: artifacts with the same content
// (the same tarball listed under two names, say) share one cache file, and
// fetching it twice at once would write one partial file twice. The fetch
// tries the URLs of every artifact that shares it. first maps a sha256 to
// its index in uniq.
func byContent(arts []Artifact) (uniq []Artifact, first map[string]int) {
	first = map[string]int{}
	for _, a := range arts {
		i, ok := first[a.SHA256]
		if !ok {
			first[a.SHA256] = len(uniq)
			uniq = append(uniq, a)
			continue
		}
		for _, u := range a.URLs {
			if !slices.Contains(uniq[i].URLs, u) {
				uniq[i].URLs = append(uniq[i].URLs, u)
			}
		}
	}
	return uniq, first
}

func cloneArtifacts(in []Artifact) []Artifact {
	out := make([]Artifact, len(in))
	for i, a := range in {
		a.URLs = append([]string(nil), a.URLs...)
		out[i] = a
	}
	return out
}

// CachePath is where a verified artifact lives in the cache.
func (f *Fetcher) CachePath(a Artifact) string { return filepath.Join(f.CacheDir, a.SHA256) }

// VerifiedSum is the sha256 of a cache file, read from its name: only a
// verified file is ever renamed to its sha256 (partial.finish). ok is false
// for a name that is not a sha256. Installing a binary artifact need not
// hash it a third time (the kubelet and kubectl are 141 MB).
func VerifiedSum(p string) (sha256 string, ok bool) {
	b := filepath.Base(p)
	return b, isSHA256(b)
}

// cached reports whether the verified file of a is in the cache. Only a
// verified file is ever renamed to its sha256: the name is the proof.
func (f *Fetcher) cached(a Artifact) bool {
	st, err := os.Stat(f.CachePath(a))
	return err == nil && st.Mode().IsRegular() && st.Size() == a.Size
}

func (f *Fetcher) fetchOne(ctx context.Context, a Artifact, offlineDir string) (Local, error) {
	bar := begin(f.Progress, a)
	final := f.CachePath(a)
	if f.cached(a) {
		bar.Done(Result{CacheHit: true})
		return Local{Artifact: a, Path: final, CacheHit: true}, nil
	}
	op := "download"
	if offlineDir != "" {
		op = "offline"
	}
	// The partial file is locked: another add2tkectl (an artifacts pull
	// beside an install) fetching the same content waits here, then finds
	// the verified file.
	p, err := openPartial(ctx, f.CacheDir, a, offlineDir != "", func() {
		f.log().WithField("artifact", a.Name).Info("another add2tkectl is fetching this artifact; waiting for it")
	})
	if err != nil {
		bar.Done(Result{Err: err})
		return Local{}, &Error{Artifact: a.Name, Op: op, Err: err}
	}
	defer p.discard()
	if f.cached(a) {
		bar.Done(Result{CacheHit: true})
		return Local{Artifact: a, Path: final, CacheHit: true}, nil
	}
	var fetched int64
	if offlineDir != "" {
		fetched, err = f.copyOffline(a, filepath.Join(offlineDir, OfflineName(a)), p, bar)
	} else {
		fetched, err = f.download(ctx, a, p, bar)
	}
	bar.Done(Result{Fetched: fetched, Err: err})
	if err != nil {
		return Local{}, err
	}
	return Local{Artifact: a, Path: final}, nil
}

// copyOffline verifies a file of an offline directory into the cache.
func (f *Fetcher) copyOffline(a Artifact, src string, p *partial, bar Bar) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, &Error{Artifact: a.Name, Op: "offline", Err: fmt.Errorf("%w; the offline directory must hold %s (fill it with `add2tkectl artifacts pull --to DIR`)", err, OfflineName(a))}
	}
	defer in.Close()
	if _, err := p.copyFrom(in, a.Size+1, bar); err != nil {
		if outOfSpace(err) {
			return p.n, f.outOfSpaceError(a.Name, err)
		}
		return p.n, &Error{Artifact: a.Name, Op: "offline", Err: fmt.Errorf("copy %s: %w", src, err)}
	}
	if err := p.finish(a); err != nil {
		return p.n, &Error{Artifact: a.Name, Op: "checksum", Err: fmt.Errorf("%s: %w; the offline directory is not the one this manifest describes", src, err)}
	}
	return p.n, nil
}

// permanentError is an answer that retrying the same URL cannot change.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// mismatchError is content that does not match the manifest: start over.
type mismatchError struct{ err error }

func (e *mismatchError) Error() string { return e.err.Error() }

// retryAfterError carries the server's Retry-After.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// attemptFunc makes one request to u; progressed says bytes were received.
type attemptFunc func(ctx context.Context, u string) (progressed bool, err error)

// retry runs try over urls in order, Rounds times, with backoff and jitter
// between failed attempts of one URL. An expired link or a permanent error
// takes that URL out; a mismatch starts over once and then is final. When
// resumable, an attempt that received bytes resets the failure count (the
// next attempt continues from there); otherwise every failure counts, so
// the number of requests is at most Attempts*Rounds per URL.
func (f *Fetcher) retry(ctx context.Context, name string, urls []string, resumable bool, try attemptFunc) error {
	pol := f.retryPolicy()
	log := f.log().WithField("artifact", name)
	dead := make([]bool, len(urls))
	last := make([]error, len(urls))
	var expired *ExpiredError
	mismatches := 0
	for round := 0; round < pol.Rounds; round++ {
		for i, u := range urls {
			if dead[i] {
				continue
			}
			ul := log.WithField("url", redact.URL(u))
			fails := 0
			for {
				progressed, err := try(ctx, u)
				if err == nil {
					return nil
				}
				if ctx.Err() != nil {
					if errors.Is(ctx.Err(), context.DeadlineExceeded) {
						return &Error{Artifact: name, Op: "download", Err: fmt.Errorf("did not finish within its deadline (last error: %v); check the link's bandwidth or stage the artifacts with `add2tkectl artifacts pull` and use --artifacts-dir", err)}
					}
					return &Error{Artifact: name, Op: "download", Err: ctx.Err()}
				}
				if outOfSpace(err) {
					return f.outOfSpaceError(name, err)
				}
				var ee *ExpiredError
				var pe *permanentError
				var me *mismatchError
				switch {
				case errors.As(err, &ee):
					ul.Warn("presigned link expired")
					expired, dead[i] = ee, true
				case errors.As(err, &pe):
					ul.WithError(err).Warn("URL refused the download")
					last[i], dead[i] = err, true
				case errors.As(err, &me):
					mismatches++
					if mismatches >= 2 {
						return &Error{Artifact: name, Op: "checksum", Err: fmt.Errorf("%v, twice; the artifact in COS does not match the signed manifest: republish it or regenerate the manifest", err)}
					}
					ul.WithError(err).Warn("content does not match the manifest; downloading again from scratch")
					continue
				default:
					last[i] = err
					if progressed && resumable {
						fails = 0
					}
					fails++
					ul.WithError(err).WithField("attempt", fails).Info("download interrupted; retrying")
				}
				if dead[i] || fails >= pol.Attempts {
					break
				}
				if err := sleep(ctx, backoff(pol, fails, err)); err != nil {
					return &Error{Artifact: name, Op: "download", Err: err}
				}
			}
		}
	}
	if expired != nil {
		return expired
	}
	var parts []string
	for i, u := range urls {
		if last[i] != nil {
			parts = append(parts, fmt.Sprintf("%s: %v", redact.URL(u), last[i]))
		}
	}
	return &Error{Artifact: name, Op: "download", Err: fmt.Errorf("every URL failed (%s); check that this host reaches COS (the internal endpoint needs the VPC's private link), or stage the artifacts with `add2tkectl artifacts pull` and use --artifacts-dir", strings.Join(parts, "; "))}
}

// outOfSpace says a write to the cache failed for want of room: no retry
// of the link can help, and "check that this host reaches COS" would send
// the operator the wrong way.
func outOfSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

func (f *Fetcher) outOfSpaceError(name string, err error) error {
	return &Error{Artifact: name, Op: "download", Err: fmt.Errorf("the artifact cache %s is full (%w): free space on its filesystem and run install again; what was downloaded is kept and resumes", f.CacheDir, err)}
}

func backoff(p Retry, fails int, err error) time.Duration {
	d := p.Base << min(fails-1, 20)
	if d > p.Max || d <= 0 {
		d = p.Max
	}
	d = d/2 + rand.N(d/2+1)
	var ra *retryAfterError
	if errors.As(err, &ra) && ra.after > d {
		d = min(ra.after, p.Max)
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// download fetches one artifact into p, resuming what is on disk.
func (f *Fetcher) download(ctx context.Context, a Artifact, p *partial, bar Bar) (int64, error) {
	pol := f.retryPolicy()
	ctx, cancel := context.WithTimeout(ctx, pol.Deadline)
	defer cancel()
	bar.SetCurrent(p.n)
	var fetched int64
	err := f.retry(ctx, a.Name, a.URLs, true, func(ctx context.Context, u string) (bool, error) {
		before := p.n
		err := f.attempt(ctx, a, u, p, bar, pol.Stall)
		if p.n > before {
			fetched += p.n - before
		}
		if err == nil && p.n == a.Size {
			if ferr := p.finish(a); ferr != nil {
				var me *mismatchError
				if errors.As(ferr, &me) {
					_ = p.reset()
					bar.SetCurrent(0)
				}
				return true, ferr
			}
			return true, nil
		}
		if err == nil {
			err = fmt.Errorf("connection closed after %d of %d bytes", p.n, a.Size)
		}
		return p.n > before, err
	})
	return fetched, err
}

// attempt makes one ranged GET and appends what arrives to the partial file.
func (f *Fetcher) attempt(ctx context.Context, a Artifact, u string, p *partial, bar Bar, stall time.Duration) error {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return &permanentError{fmt.Errorf("bad URL %s", redact.URL(u))}
	}
	if p.n > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", p.n))
		if p.etag != "" {
			req.Header.Set("If-Range", p.etag)
		}
	}
	resp, err := f.client().Do(req)
	if err != nil {
		return redactErr(err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if p.n > 0 { // the server ignored the range or the object changed
			if err := p.reset(); err != nil {
				return err
			}
			bar.SetCurrent(0)
		}
		if resp.ContentLength >= 0 && resp.ContentLength != a.Size {
			return &mismatchError{fmt.Errorf("size is %d bytes, the manifest says %d", resp.ContentLength, a.Size)}
		}
		p.etag = resp.Header.Get("ETag")
	case http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != p.n || total != a.Size {
			_ = p.reset()
			bar.SetCurrent(0)
			return fmt.Errorf("unexpected Content-Range %q; starting over", resp.Header.Get("Content-Range"))
		}
		if p.etag == "" {
			p.etag = resp.Header.Get("ETag")
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if p.n == a.Size {
			return nil
		}
		_ = p.reset()
		bar.SetCurrent(0)
		return errors.New("range not satisfiable; starting over")
	default:
		return statusError(resp, u)
	}
	watch := newStallWatch(stall, cancel)
	defer watch.stop()
	_, err = p.copyFrom(watch.reader(resp.Body), a.Size-p.n, bar)
	if err != nil {
		if watch.fired() {
			return fmt.Errorf("no data for %s", stall)
		}
		if outOfSpace(err) {
			return err // the cache's own path, nothing to redact
		}
		return redactErr(err)
	}
	return nil
}

// statusError turns an HTTP error answer into an error: expired link,
// retryable (5xx, 429) or permanent.
func statusError(resp *http.Response, u string) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	code, msg := parseCOSError(body)
	desc := resp.Status
	if code != "" {
		desc = fmt.Sprintf("%s (%s: %s)", resp.Status, code, msg)
	}
	switch {
	case resp.StatusCode == http.StatusForbidden && code == "AccessDenied" && strings.Contains(strings.ToLower(msg), "expired"):
		return &ExpiredError{URL: redact.URL(u)}
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		err := fmt.Errorf("server answered %s", desc)
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			return &retryAfterError{err: err, after: time.Duration(s) * time.Second}
		}
		return err
	}
	return &permanentError{fmt.Errorf("server answered %s", desc)}
}

// parseCOSError reads <Error><Code>..</Code><Message>..</Message></Error>.
func parseCOSError(body []byte) (code, msg string) {
	s := string(body)
	return between(s, "<Code>", "</Code>"), between(s, "<Message>", "</Message>")
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return strings.TrimSpace(v)
}

// parseContentRange reads "bytes START-END/TOTAL".
func parseContentRange(h string) (start, total int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(spec, "/")
	s, _, found2 := strings.Cut(rng, "-")
	if !found || !found2 {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(s, 10, 64)
	total, err2 := strconv.ParseInt(tot, 10, 64)
	return start, total, err1 == nil && err2 == nil
}

// redactErr strips presigned query strings from an error's URL.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: redact.URL(ue.URL), Err: ue.Err}
	}
	return errors.New(redact.String(err.Error()))
}

// stallWatch cancels an attempt that receives nothing for a while.
type stallWatch struct {
	d     time.Duration
	t     *time.Timer
	mu    sync.Mutex
	fire  bool
	abort func()
}

func newStallWatch(d time.Duration, abort context.CancelFunc) *stallWatch {
	w := &stallWatch{d: d, abort: abort}
	w.t = time.AfterFunc(d, func() {
		w.mu.Lock()
		w.fire = true
		w.mu.Unlock()
		abort()
	})
	return w
}

func (w *stallWatch) reader(r io.Reader) io.Reader { return stallReader{r, w} }
func (w *stallWatch) stop()                        { w.t.Stop() }
func (w *stallWatch) fired() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fire
}

type stallReader struct {
	r io.Reader
	w *stallWatch
}

func (s stallReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if n > 0 {
		s.w.t.Reset(s.w.d)
	}
	return n, err
}

// ManifestLimit is the largest manifest envelope accepted.
const ManifestLimit = 4 << 20

// FetchManifest downloads the manifest envelope from its (presigned) URL
// with the same expiry rule as artifacts, and bounds like theirs: at most
// Attempts*Rounds requests (a manifest is never resumed, so a body cut
// short counts as a failure however much of it came), Stall on the answer,
// ManifestDeadline on the whole and ManifestLimit on the body. It does not
// verify it: pass the bytes to VerifyManifest.
func (f *Fetcher) FetchManifest(ctx context.Context, manifestURL string) ([]byte, error) {
	if manifestURL == "" {
		return nil, manifestErr("artifacts.manifestURL is empty; set it in the configuration")
	}
	pol := f.retryPolicy()
	ctx, cancel := context.WithTimeout(ctx, pol.ManifestDeadline)
	defer cancel()
	var body []byte
	err := f.retry(ctx, "manifest", []string{manifestURL}, false, func(ctx context.Context, u string) (bool, error) {
		b, err := f.getManifest(ctx, u, pol.Stall)
		if err != nil {
			return len(b) > 0, err
		}
		body = b
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return body, nil
}

// getManifest makes one request for the manifest. The stall watch starts
// before the request, so a server that never answers is cut off too,
// whatever the client's own timeouts.
func (f *Fetcher) getManifest(ctx context.Context, u string, stall time.Duration) ([]byte, error) {
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &permanentError{fmt.Errorf("bad manifest URL %s", redact.URL(u))}
	}
	watch := newStallWatch(stall, cancel)
	defer watch.stop()
	resp, err := f.client().Do(req)
	if err != nil {
		if watch.fired() {
			return nil, fmt.Errorf("no answer for %s", stall)
		}
		return nil, redactErr(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp, u)
	}
	if resp.ContentLength > ManifestLimit {
		return nil, &permanentError{fmt.Errorf("manifest is %d bytes, more than %d", resp.ContentLength, ManifestLimit)}
	}
	b, err := io.ReadAll(io.LimitReader(watch.reader(resp.Body), ManifestLimit+1))
	if err != nil {
		if watch.fired() {
			return b, fmt.Errorf("no data for %s after %d bytes of the manifest", stall, len(b))
		}
		return b, redactErr(err)
	}
	if len(b) > ManifestLimit {
		return b, &permanentError{fmt.Errorf("manifest is larger than %d bytes", ManifestLimit)}
	}
	return b, nil
}
