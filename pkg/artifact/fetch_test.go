package artifact_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
)

func TestFetchDownloadsAndVerifies(t *testing.T) {
	kubelet, runc := data(300<<10, 1), data(70<<10, 2)
	c := startCOS(t, map[string][]byte{"bin/kubelet": kubelet, "bin/runc": runc})
	_, m := signed(t, "", art("kubelet", kubelet, c.url("/bin/kubelet")), art("runc", runc, c.url("/bin/runc")))
	cache := t.TempDir()
	got, err := fastFetcher(cache).Fetch(context.Background(), "", m, "linux", "amd64", "")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"kubelet": kubelet, "runc": runc} {
		l := got[name]
		b, err := os.ReadFile(l.Path)
		if err != nil || string(b) != string(want) || l.CacheHit {
			t.Errorf("%s: path %q err %v cacheHit %v, content equal %v", name, l.Path, err, l.CacheHit, string(b) == string(want))
		}
		if filepath.Dir(l.Path) != cache || filepath.Base(l.Path) != l.SHA256 {
			t.Errorf("%s: not in the cache under its sha256: %s", name, l.Path)
		}
	}
	if files := cacheFiles(t, cache); len(files) != 2 {
		t.Errorf("cache holds %v, want exactly the two verified files", files)
	}
}

func TestFetchResumesAfterReset(t *testing.T) {
	const size, cut = 1 << 20, 300 << 10
	blob := data(size, 3)
	c := startCOS(t, map[string][]byte{"kubelet": blob})
	c.fault(map[string]any{"path": "/kubelet", "resetAfter": cut, "times": 2})
	_, m := signed(t, "", art("kubelet", blob, c.url("/kubelet")))
	got, err := fastFetcher(t.TempDir()).Fetch(context.Background(), "", m, "linux", "amd64", "")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got["kubelet"].Path); string(b) != string(blob) {
		t.Fatal("content differs after resume")
	}
	st := c.stats("/kubelet")
	if st.Requests != 3 || st.Status["206"] != 2 {
		t.Errorf("server saw %+v, want 3 requests of which 2 ranged (206)", st)
	}
	// A restart from zero would send size+2*cut; a resume sends about size.
	if st.Bytes < size || st.Bytes > size+cut/2 {
		t.Errorf("server sent %d bytes for a %d-byte file with 2 resets of %d; want about the file size", st.Bytes, size, cut)
	}
}

func TestFetchResumesAfterTruncatedBody(t *testing.T) {
	blob := data(200<<10, 4)
	c := startCOS(t, map[string][]byte{"runc": blob})
	c.fault(map[string]any{"path": "/runc", "truncateAfter": 50 << 10, "times": 1})
	_, m := signed(t, "", art("runc", blob, c.url("/runc")))
	if _, err := fastFetcher(t.TempDir()).Fetch(context.Background(), "", m, "linux", "amd64", ""); err != nil {
		t.Fatal(err)
	}
	if st := c.stats("/runc"); st.Requests != 2 || st.Bytes != int64(len(blob)) {
		t.Errorf("server saw %+v, want 2 requests sending %d bytes in all", st, len(blob))
	}
}

func TestFetchRetries5xxThenSucceeds(t *testing.T) {
	blob := data(10<<10, 5)
	c := startCOS(t, map[string][]byte{"crictl": blob})
	c.fault(map[string]any{"path": "/crictl", "status": 503, "times": 2})
	_, m := signed(t, "", art("crictl", blob, c.url("/crictl")))
	if _, err := fastFetcher(t.TempDir()).Fetch(context.Background(), "", m, "linux", "amd64", ""); err != nil {
		t.Fatal(err)
	}
	if st := c.stats("/crictl"); st.Requests != 3 || st.Status["503"] != 2 || st.Status["200"] != 1 {
		t.Errorf("server saw %+v, want two 503s then one 200", st)
	}
}

func TestFetchFallsBackToTheNextURL(t *testing.T) {
	blob := data(10<<10, 6)
	c := startCOS(t, map[string][]byte{"internal/x": blob, "public/x": blob})
	c.fault(map[string]any{"path": "/internal/x", "status": 500})
	_, m := signed(t, "", art("x", blob, c.url("/internal/x"), c.url("/public/x")))
	f := fastFetcher(t.TempDir())
	f.Retry.Attempts = 2
	if _, err := f.Fetch(context.Background(), "", m, "linux", "amd64", ""); err != nil {
		t.Fatal(err)
	}
	if in, pub := c.stats("/internal/x"), c.stats("/public/x"); in.Requests != 2 || pub.Requests != 1 {
		t.Errorf("internal %+v, public %+v: want 2 tries of the internal URL, then the public one", in, pub)
	}
}

func TestFetchEveryURLDownIsAClearError(t *testing.T) {
	blob := data(1<<10, 7)
	c := startCOS(t, map[string][]byte{"x": blob})
	c.fault(map[string]any{"path": "/x", "status": 503})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/x?q-signature=deadbeef"
	ln.Close()
	_, m := signed(t, "", art("x", blob, closed, c.url("/x")))
	f := fastFetcher(t.TempDir())
	f.Retry.Attempts, f.Retry.Rounds = 2, 2
	_, err = f.Fetch(context.Background(), "", m, "linux", "amd64", "")
	var ae *artifact.Error
	if !errors.As(err, &ae) || ae.Op != "download" {
		t.Fatalf("got %v (%T), want a download *artifact.Error", err, err)
	}
	msg := err.Error()
	for _, want := range []string{"every URL failed", "503", "refused", "--artifacts-dir"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "q-signature") || strings.Contains(msg, "deadbeef") {
		t.Errorf("error leaks a presigned query string: %s", msg)
	}
	if st := c.stats("/x"); st.Requests != 4 {
		t.Errorf("server saw %d requests, want 2 attempts x 2 rounds", st.Requests)
	}
}

func TestFetchExpiredLinkIsNotRetried(t *testing.T) {
	blob := data(1<<10, 8)
	c := startCOS(t, map[string][]byte{"kubelet": blob})
	expired := c.presign("/kubelet", -2*time.Hour, time.Hour)
	_, m := signed(t, "", art("kubelet", blob, expired))
	cache := t.TempDir()
	_, err := fastFetcher(cache).Fetch(context.Background(), "", m, "linux", "amd64", "")
	var ee *artifact.ExpiredError
	if !errors.As(err, &ee) {
		t.Fatalf("got %v (%T), want *artifact.ExpiredError", err, err)
	}
	if !strings.Contains(err.Error(), "the download link has expired; regenerate the script in the console") {
		t.Errorf("message %q", err)
	}
	if strings.Contains(err.Error(), "q-signature") {
		t.Errorf("error leaks the presigned query: %s", err)
	}
	if st := c.stats("/kubelet"); st.Requests != 1 || st.Status["403"] != 1 {
		t.Errorf("server saw %+v, want one 403 and no retry", st)
	}

	// Unless the artifact is already in the cache.
	_, fresh := signed(t, "", art("kubelet", blob, c.url("/kubelet")))
	if _, err := fastFetcher(cache).Fetch(context.Background(), "", fresh, "linux", "amd64", ""); err != nil {
		t.Fatal(err)
	}
	got, err := fastFetcher(cache).Fetch(context.Background(), "", m, "linux", "amd64", "")
	if err != nil || !got["kubelet"].CacheHit {
		t.Fatalf("cached artifact with an expired link: %v, cache hit %v", err, got["kubelet"].CacheHit)
	}
}

func TestFetchManifestExpired(t *testing.T) {
	c := startCOS(t, map[string][]byte{"manifest.json": []byte("{}")})
	_, err := fastFetcher(t.TempDir()).FetchManifest(context.Background(), c.presign("/manifest.json", -3*time.Hour, time.Hour))
	if !artifact.IsExpired(err) {
		t.Fatalf("got %v, want an expired link", err)
	}
	env, _ := signed(t, "http://elsewhere/", art("k", []byte("k"), "k"))
	if err := os.WriteFile(filepath.Join(c.Dir, "manifest.json"), env, 0o644); err != nil {
		t.Fatal(err)
	}
	mu := c.url("/manifest.json")
	got, err := fastFetcher(t.TempDir()).FetchManifest(context.Background(), mu)
	if err != nil || string(got) != string(env) {
		t.Fatalf("fetch manifest: %v", err)
	}
	m, err := artifact.VerifyManifest(got, mu, string(testPub))
	if err != nil {
		t.Fatal(err)
	}
	if u := m.Artifacts[0].URLs[0]; u != c.URL+"/k" {
		t.Errorf("relative URL resolved to %q, want %q (without the manifest's presigned query)", u, c.URL+"/k")
	}
}

func TestFetchChecksumMismatchLeavesNothingInTheCache(t *testing.T) {
	blob := data(64<<10, 9)
	c := startCOS(t, map[string][]byte{"containerd": blob})
	c.fault(map[string]any{"path": "/containerd", "corrupt": true})
	_, m := signed(t, "", art("containerd", blob, c.url("/containerd")))
	cache := t.TempDir()
	_, err := fastFetcher(cache).Fetch(context.Background(), "", m, "linux", "amd64", "")
	var ae *artifact.Error
	if !errors.As(err, &ae) || ae.Op != "checksum" {
		t.Fatalf("got %v (%T), want a checksum *artifact.Error", err, err)
	}
	if files := cacheFiles(t, cache); len(files) != 0 {
		t.Errorf("cache holds %v after a checksum failure, want nothing", files)
	}
	if st := c.stats("/containerd"); st.Requests != 2 {
		t.Errorf("server saw %d requests, want the download retried once from scratch", st.Requests)
	}
}

func TestFetchCacheHitMakesNoRequest(t *testing.T) {
	blob := data(32<<10, 10)
	c := startCOS(t, map[string][]byte{"kubelet": blob})
	_, m := signed(t, "", art("kubelet", blob, c.url("/kubelet")))
	cache := t.TempDir()
	if _, err := fastFetcher(cache).Fetch(context.Background(), "", m, "linux", "amd64", ""); err != nil {
		t.Fatal(err)
	}
	before := c.stats("/kubelet").Requests
	got, err := fastFetcher(cache).Fetch(context.Background(), "", m, "linux", "amd64", "")
	if err != nil {
		t.Fatal(err)
	}
	if !got["kubelet"].CacheHit {
		t.Error("second fetch is not a cache hit")
	}
	if after := c.stats("/kubelet").Requests; after != before {
		t.Errorf("second fetch made %d requests, want none", after-before)
	}
}

// recorder is a Progress that records how many artifacts were in flight.
type recorder struct {
	mu            sync.Mutex
	now, maxAtOnc int
	lines         []string
}

func (r *recorder) Begin(a artifact.Artifact) artifact.Bar {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now++
	r.maxAtOnc = max(r.maxAtOnc, r.now)
	return recBar{r}
}
func (r *recorder) Wait() {}

func (r *recorder) Writer() io.Writer { return io.Discard }

type recBar struct{ r *recorder }

func (recBar) SetCurrent(int64) {}
func (b recBar) Done(artifact.Result) {
	b.r.mu.Lock()
	defer b.r.mu.Unlock()
	b.r.now--
}

func TestFetchRunsArtifactsInParallel(t *testing.T) {
	files := map[string][]byte{}
	var arts []artifact.Artifact
	for i, n := range []string{"a", "b", "c", "d", "e"} {
		files[n] = data(8<<10, byte(20+i))
	}
	c := startCOS(t, files)
	// A slow link: each artifact takes a while, so parallel ones overlap.
	c.fault(map[string]any{"rate": 32 << 10})
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		arts = append(arts, art(n, files[n], c.url("/"+n)))
	}
	_, m := signed(t, "", arts...)
	for _, tc := range []struct{ parallel, want int }{{3, 3}, {1, 1}} {
		rec := &recorder{}
		f := fastFetcher(t.TempDir())
		f.Parallel, f.Progress = tc.parallel, rec
		got, err := f.Fetch(context.Background(), "", m, "linux", "amd64", "")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 || rec.maxAtOnc != tc.want {
			t.Errorf("Parallel=%d: %d artifacts, at most %d at once; want 5 and %d", tc.parallel, len(got), rec.maxAtOnc, tc.want)
		}
	}
}

func TestFetchRetriesAStalledLink(t *testing.T) {
	blob := data(4<<10, 11)
	c := startCOS(t, map[string][]byte{"x": blob})
	c.fault(map[string]any{"path": "/x", "rate": 1, "times": 1}) // 1 byte/s: stalls
	_, m := signed(t, "", art("x", blob, c.url("/x")))
	f := fastFetcher(t.TempDir())
	f.Retry.Stall = 300 * time.Millisecond
	if _, err := f.Fetch(context.Background(), "", m, "linux", "amd64", ""); err != nil {
		t.Fatal(err)
	}
	if st := c.stats("/x"); st.Requests != 2 {
		t.Errorf("server saw %d requests, want the stalled one and a resumed one", st.Requests)
	}
}

func TestFetchOfflineDir(t *testing.T) {
	kubelet, pause := data(20<<10, 12), data(5<<10, 13)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	nowhere := "http://" + ln.Addr().String() + "/"
	ln.Close()
	a1, a2 := art("kubelet", kubelet, nowhere+"kubelet"), art("image/pause", pause, nowhere+"pause")
	a2.Kind = artifact.KindImage
	_, m := signed(t, "", a1, a2)
	dir := t.TempDir()
	for a, b := range map[string][]byte{"kubelet-v1-linux-amd64": kubelet, "image_pause-v1-linux-amd64": pause} {
		if err := os.WriteFile(filepath.Join(dir, a), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cache := t.TempDir()
	got, err := fastFetcher(cache).Fetch(context.Background(), "", m, "linux", "amd64", dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got["image/pause"].Path); string(b) != string(pause) {
		t.Error("image/pause not verified into the cache")
	}

	// A tampered offline file is refused and not cached.
	bad := append([]byte(nil), kubelet...)
	bad[100] ^= 1
	if err := os.WriteFile(filepath.Join(dir, "kubelet-v1-linux-amd64"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	cache2 := t.TempDir()
	_, err = fastFetcher(cache2).Fetch(context.Background(), "", m, "linux", "amd64", dir)
	var ae *artifact.Error
	if !errors.As(err, &ae) || ae.Op != "checksum" {
		t.Fatalf("tampered offline file: got %v, want a checksum error", err)
	}
	for _, f := range cacheFiles(t, cache2) {
		if strings.HasPrefix(f, a1.SHA256) {
			t.Errorf("cache holds %s for the tampered file", f)
		}
	}
}

func TestFetchNoArtifactForArch(t *testing.T) {
	_, m := signed(t, "", art("kubelet", []byte("x"), "http://127.0.0.1:1/k"))
	_, err := fastFetcher(t.TempDir()).Fetch(context.Background(), "", m, "linux", "arm64", "")
	var ae *artifact.Error
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "linux/arm64") {
		t.Fatalf("got %v, want an *artifact.Error naming linux/arm64", err)
	}
}
