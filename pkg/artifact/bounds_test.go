package artifact_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
)

// These tests run against httptest servers that misbehave on purpose: they
// half-answer, stall, trickle or flood, and count the requests they get.

// counting wraps h and counts its requests.
type counting struct {
	n atomic.Int64
	h http.HandlerFunc
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.h(w, r)
}

func serve(t *testing.T, h http.HandlerFunc) (*httptest.Server, *counting) {
	t.Helper()
	c := &counting{h: h}
	s := httptest.NewServer(c)
	t.Cleanup(s.Close)
	return s, c
}

// halfAnswer promises n bytes, sends half and drops the connection.
func halfAnswer(n int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.WriteHeader(http.StatusOK)
		w.Write(make([]byte, n/2))
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}
}

// stall sends the headers and a few bytes, then nothing until the client
// goes away or the test ends.
func stall(release <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("{\"payload"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
}

// within runs fn and fails the test if it has not returned after limit
// (generous: it catches a hang, it does not time anything).
func within[T any](t *testing.T, limit time.Duration, fn func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- fn() }()
	select {
	case v := <-done:
		return v
	case <-time.After(limit):
		t.Fatalf("still running after %s: the fetch is not bounded", limit)
		panic("unreachable")
	}
}

func boundedFetcher(cache string, r artifact.Retry) *artifact.Fetcher {
	if r.Base == 0 {
		r.Base, r.Max = time.Millisecond, 2*time.Millisecond
	}
	return &artifact.Fetcher{CacheDir: cache, Retry: r}
}

// A manifest is never resumed, so a body cut short is a failure however
// much of it came: the requests are capped at Attempts*Rounds.
func TestFetchManifestThatIsCutShortIsRetriedAtMostAttemptsTimesRounds(t *testing.T) {
	s, c := serve(t, halfAnswer(4096))
	f := boundedFetcher(t.TempDir(), artifact.Retry{Attempts: 3, Rounds: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := f.FetchManifest(ctx, s.URL+"/manifest.json")
	var ae *artifact.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want an *artifact.Error", err)
	}
	if got := c.n.Load(); got != 6 {
		t.Errorf("the server got %d requests, want 3 attempts x 2 rounds = 6", got)
	}
}

// A stalled body is cut by the stall timeout, each attempt.
func TestFetchManifestStalledBodyIsCutByTheStallTimeout(t *testing.T) {
	release := make(chan struct{})
	s, c := serve(t, stall(release))
	defer close(release)
	f := boundedFetcher(t.TempDir(), artifact.Retry{Attempts: 2, Rounds: 1, Stall: 100 * time.Millisecond})
	err := within(t, 30*time.Second, func() error {
		_, err := f.FetchManifest(context.Background(), s.URL+"/manifest.json")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "no data for 100ms") {
		t.Errorf("got %v, want the stall named", err)
	}
	if got := c.n.Load(); got != 2 {
		t.Errorf("the server got %d requests, want 2", got)
	}
}

// A server that never sends its headers is cut by the stall timeout too,
// whatever the client's own timeouts (none here).
func TestFetchManifestWithoutAnswerIsCutByTheStallTimeout(t *testing.T) {
	release := make(chan struct{})
	s, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	f := boundedFetcher(t.TempDir(), artifact.Retry{Attempts: 1, Rounds: 1, Stall: 100 * time.Millisecond})
	f.Client = &http.Client{}
	err := within(t, 30*time.Second, func() error {
		_, err := f.FetchManifest(context.Background(), s.URL+"/manifest.json")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "no answer for 100ms") {
		t.Errorf("got %v, want the missing answer named", err)
	}
}

// A body that trickles (one byte every 10ms: never a stall) is cut by the
// manifest's deadline.
func TestFetchManifestTrickleIsCutByTheDeadline(t *testing.T) {
	release := make(chan struct{})
	s, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.WriteHeader(http.StatusOK)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-release:
				return
			case <-tick.C:
				w.Write([]byte(" "))
				w.(http.Flusher).Flush()
			}
		}
	})
	defer close(release)
	f := boundedFetcher(t.TempDir(), artifact.Retry{Stall: 5 * time.Second, ManifestDeadline: 300 * time.Millisecond})
	err := within(t, 30*time.Second, func() error {
		_, err := f.FetchManifest(context.Background(), s.URL+"/manifest.json")
		return err
	})
	var ae *artifact.Error
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("got %v, want an *artifact.Error naming the deadline", err)
	}
}

// An endless body is refused at the size cap, and not asked again.
func TestFetchManifestRefusesAnOversizedBody(t *testing.T) {
	s, c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for range artifact.ManifestLimit/len(chunk) + 2 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	f := boundedFetcher(t.TempDir(), artifact.Retry{})
	err := within(t, 30*time.Second, func() error {
		_, err := f.FetchManifest(context.Background(), s.URL+"/manifest.json")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("got %v, want the size cap named", err)
	}
	if got := c.n.Load(); got != 1 {
		t.Errorf("the server got %d requests, want 1 (an oversized manifest is not asked again)", got)
	}
}

// Two artifacts with one sha256 are fetched once and share the verified
// file (they used to share one partial file and fail every time).
func TestFetchTwoArtifactsWithOneContentFetchItOnce(t *testing.T) {
	blob := data(512<<10, 9)
	s, c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // let a second fetch overlap
		http.ServeContent(w, r, "x", time.Time{}, strings.NewReader(string(blob)))
	})
	_, m := signed(t, "", art("cni-plugins", blob, s.URL+"/a"), art("image/cni", blob, s.URL+"/b"))
	cache := t.TempDir()
	got, err := fastFetcher(cache).Fetch(context.Background(), "", m, "linux", "amd64", "")
	if err != nil {
		t.Fatal(err)
	}
	if got["cni-plugins"].Path != got["image/cni"].Path || got["image/cni"].Name != "image/cni" {
		t.Errorf("locals %+v, want both names on one verified file", got)
	}
	if b, _ := os.ReadFile(got["image/cni"].Path); string(b) != string(blob) {
		t.Error("content differs")
	}
	if n := c.n.Load(); n != 1 {
		t.Errorf("the server got %d requests, want 1", n)
	}
	if files := cacheFiles(t, cache); len(files) != 1 {
		t.Errorf("cache holds %v, want the one verified file", files)
	}
}

// A second fetcher of the same content (an artifacts pull beside an
// install) waits on the partial file's lock, then takes the verified file.
func TestFetchOfTheSameArtifactWaitsForTheOneInProgress(t *testing.T) {
	blob := data(256<<10, 10)
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s, c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(started) })
		<-release
		http.ServeContent(w, r, "x", time.Time{}, strings.NewReader(string(blob)))
	})
	_, m := signed(t, "", art("kubelet", blob, s.URL+"/kubelet"))
	cache := t.TempDir()
	type res struct {
		l   map[string]artifact.Local
		err error
	}
	first, second := make(chan res, 1), make(chan res, 1)
	go func() {
		l, err := fastFetcher(cache).Fetch(context.Background(), "", m, "linux", "amd64", "")
		first <- res{l, err}
	}()
	<-started
	go func() {
		l, err := fastFetcher(cache).Fetch(context.Background(), "", m, "linux", "amd64", "")
		second <- res{l, err}
	}()
	time.Sleep(200 * time.Millisecond) // the second is now waiting on the lock, or has (wrongly) sent a request
	close(release)
	a, b := <-first, <-second
	if a.err != nil || b.err != nil {
		t.Fatalf("first: %v; second: %v", a.err, b.err)
	}
	if n := c.n.Load(); n != 1 {
		t.Errorf("the server got %d requests, want 1: the second fetch must wait for the first", n)
	}
	if !b.l["kubelet"].CacheHit {
		t.Error("the second fetch did not take the first's verified file")
	}
	if bb, _ := os.ReadFile(b.l["kubelet"].Path); string(bb) != string(blob) {
		t.Error("content differs")
	}
	if files := cacheFiles(t, cache); len(files) != 1 {
		t.Errorf("cache holds %v, want the one verified file", files)
	}
}

// A cache on a full filesystem is not a network failure: the fetch stops at
// the first write that finds no room, names the cache and says to free
// space, instead of retrying every URL and blaming the link to COS.
func TestFetchIntoAFullCacheStopsAtOnceAndNamesTheCache(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	cache := t.TempDir()
	if err := syscall.Mount("tmpfs", cache, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(cache, syscall.MNT_DETACH) })
	blob := data(2<<20, 3)
	s, c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "x", time.Time{}, strings.NewReader(string(blob)))
	})
	_, m := signed(t, "", art("kubelet", blob, s.URL+"/kubelet"))
	f := boundedFetcher(cache, artifact.Retry{Attempts: 4, Rounds: 2})
	_, err := f.Fetch(context.Background(), "", m, "linux", "amd64", "")
	var ae *artifact.Error
	if !errors.As(err, &ae) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Fetch = %v, want an artifact error wrapping ENOSPC", err)
	}
	if msg := err.Error(); !strings.Contains(msg, cache) || !strings.Contains(msg, "free space") || strings.Contains(msg, "reaches COS") {
		t.Errorf("message %q: want the cache dir and what to do, not a network hint", msg)
	}
	if n := c.n.Load(); n != 1 {
		t.Errorf("the server got %d requests, want 1 (no retry can make room)", n)
	}
}
