package artifact_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
)

// The tests run against the real artifact server program (test/cosserver),
// built once here.
var cosBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cosserver-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cosBin = filepath.Join(dir, "cosserver")
	out, err := exec.Command("go", "build", "-o", cosBin, "github.com/add2tkectl/add2tkectl/test/cosserver").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build cosserver: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	testAK = "AKIDtest"
	testSK = "secret-key-for-tests"
)

// cos is a running cosserver process.
type cos struct {
	t   *testing.T
	URL string
	Dir string
}

func startCOS(t *testing.T, files map[string][]byte) *cos {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(cosBin, "serve", "--dir", dir, "--listen", "127.0.0.1:0",
		"--secret-id", testAK, "--secret-key", testSK, "--faults")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("cosserver did not start: %v", err)
	}
	u := strings.TrimSpace(strings.TrimPrefix(line, "cosserver listening on "))
	return &cos{t: t, URL: u, Dir: dir}
}

// presign returns a presigned URL for path, valid from now+start for expires.
func (c *cos) presign(path string, start, expires time.Duration) string {
	c.t.Helper()
	out, err := exec.Command(cosBin, "presign", "--secret-id", testAK, "--secret-key", testSK,
		"--base", c.URL, "--start", start.String(), "--expires", expires.String(), path).Output()
	if err != nil {
		c.t.Fatalf("presign: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func (c *cos) url(path string) string { return c.presign(path, 0, time.Hour) }

func (c *cos) fault(f map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(f)
	resp, err := http.Post(c.URL+"/_faults", "application/json", bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		c.t.Fatalf("fault: %s", resp.Status)
	}
}

type pathStats struct {
	Requests int            `json:"requests"`
	Bytes    int64          `json:"bytes"`
	Status   map[string]int `json:"status"`
}

func (c *cos) stats(path string) pathStats {
	c.t.Helper()
	resp, err := http.Get(c.URL + "/_stats")
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var all map[string]pathStats
	if err := json.NewDecoder(resp.Body).Decode(&all); err != nil {
		c.t.Fatal(err)
	}
	return all[path]
}

// testKey is one signing key for the whole test binary.
var testPriv, testPub = func() ([]byte, []byte) {
	priv, pub, err := artifact.GenerateKey()
	if err != nil {
		panic(err)
	}
	return priv, pub
}()

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func art(name string, data []byte, urls ...string) artifact.Artifact {
	return artifact.Artifact{Name: name, Version: "v1", OS: "linux", Arch: "amd64",
		Kind: artifact.KindBinary, URLs: urls, Size: int64(len(data)), SHA256: sha(data)}
}

// signed returns the envelope of a manifest listing arts, and the manifest
// as VerifyManifest reads it back.
func signed(t *testing.T, manifestURL string, arts ...artifact.Artifact) ([]byte, *artifact.Manifest) {
	t.Helper()
	payload, err := json.Marshal(artifact.Manifest{SchemaVersion: 1, Artifacts: arts})
	if err != nil {
		t.Fatal(err)
	}
	key, err := artifact.ParsePrivateKey(testPriv)
	if err != nil {
		t.Fatal(err)
	}
	env, err := artifact.Sign(payload, key)
	if err != nil {
		t.Fatal(err)
	}
	m, err := artifact.VerifyManifest(env, manifestURL, string(testPub))
	if err != nil {
		t.Fatalf("verify a freshly signed manifest: %v", err)
	}
	return env, m
}

func data(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

func fastFetcher(cache string) *artifact.Fetcher {
	return &artifact.Fetcher{CacheDir: cache, Retry: artifact.Retry{Base: time.Millisecond, Max: 5 * time.Millisecond}}
}

// cacheFiles lists the cache directory.
func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
