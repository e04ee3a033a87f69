package cli

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

func runArtifactsCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	g := &Globals{Stdout: &stdout, Stderr: &stderr}
	root := NewRootCommand(g)
	root.SetArgs(args)
	err := root.Execute()
	if err != nil {
		stderr.WriteString("error: " + err.Error() + "\n")
	}
	return stdout.String(), stderr.String(), ExitCode(err)
}

func payloadJSON(arts ...artifact.Artifact) []byte {
	b, _ := json.Marshal(artifact.Manifest{SchemaVersion: 1, Artifacts: arts})
	return b
}

func shaHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestArtifactsKeygenSignInteropWithOpenSSL: the key keygen writes is read by
// openssl, and openssl verifies the signature sign writes over DSSE's PAE.
func TestArtifactsKeygenSignInteropWithOpenSSL(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "release")
	if _, errOut, code := runArtifactsCLI(t, "artifacts", "keygen", "--out", prefix); code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, errOut)
	}
	if st, err := os.Stat(prefix + ".key"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v, mode %v; want 0600", err, st.Mode())
	}
	if _, _, code := runArtifactsCLI(t, "artifacts", "keygen", "--out", prefix); code == 0 {
		t.Error("keygen overwrote an existing key")
	}
	payload := payloadJSON(artifact.Artifact{Name: "kubelet", Version: "v1.35.4", OS: "linux", Arch: "amd64",
		Kind: "binary", URLs: []string{"kubelet"}, Size: 4, SHA256: shaHex([]byte("abcd"))})
	pp := filepath.Join(dir, "payload.json")
	os.WriteFile(pp, payload, 0o644)
	envOut, errOut, code := runArtifactsCLI(t, "artifacts", "sign", "--key", prefix+".key", pp)
	if code != 0 {
		t.Fatalf("sign: exit %d: %s", code, errOut)
	}
	var env artifact.Envelope
	if err := json.Unmarshal([]byte(envOut), &env); err != nil || env.PayloadType != artifact.PayloadType {
		t.Fatalf("envelope %q: %v", envOut, err)
	}
	if got, _ := base64.StdEncoding.DecodeString(env.Payload); !bytes.Equal(got, payload) {
		t.Error("the payload is not signed byte for byte")
	}
	sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	pae, sigf := filepath.Join(dir, "pae.bin"), filepath.Join(dir, "sig.bin")
	os.WriteFile(pae, artifact.PAE(artifact.PayloadType, payload), 0o600)
	os.WriteFile(sigf, sig, 0o600)
	out, err := exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", prefix+".pub", "-rawin",
		"-in", pae, "-sigfile", sigf).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl does not verify the signature: %v: %s", err, out)
	}
	if out, err := exec.Command("openssl", "pkey", "-in", prefix+".key", "-noout").CombinedOutput(); err != nil {
		t.Fatalf("openssl cannot read the private key: %s", out)
	}

	// --out writes the same envelope, not world-readable.
	outFile := filepath.Join(dir, "manifest.json")
	if _, errOut, code := runArtifactsCLI(t, "artifacts", "sign", "--key", prefix+".key", pp, "--out", outFile); code != 0 {
		t.Fatalf("sign --out: %s", errOut)
	}
	if b, _ := os.ReadFile(outFile); string(b) != envOut {
		t.Error("--out differs from standard output")
	}
	if st, _ := os.Stat(outFile); st.Mode().Perm() != 0o600 {
		t.Errorf("envelope mode %v, want 0600", st.Mode().Perm())
	}
}

func TestArtifactsSignRefusesAnInvalidPayload(t *testing.T) {
	dir := t.TempDir()
	runArtifactsCLI(t, "artifacts", "keygen", "--out", filepath.Join(dir, "k"))
	pp := filepath.Join(dir, "payload.json")
	os.WriteFile(pp, []byte(`{"schemaVersion":2,"artifacts":[]}`), 0o644)
	_, errOut, code := runArtifactsCLI(t, "artifacts", "sign", "--key", filepath.Join(dir, "k.key"), pp)
	if code != ExitArtifact || !strings.Contains(errOut, "schemaVersion 2") {
		t.Errorf("exit %d, %q; want exit 4 naming the schemaVersion", code, errOut)
	}
	if _, _, code := runArtifactsCLI(t, "artifacts", "sign", pp); code != ExitUsage {
		t.Errorf("sign without --key: exit %d, want 2", code)
	}
}

func TestArtifactErrorsExitCodes(t *testing.T) {
	expired := fmt.Errorf("download phase: %w", &artifact.ExpiredError{URL: "https://b/x?REDACTED"})
	if c := ExitCode(expired); c != ExitExpired {
		t.Errorf("expired link: exit %d, want 5", c)
	}
	if c := ExitCode(fmt.Errorf("x: %w", &artifact.Error{Op: "checksum", Err: fmt.Errorf("bad")})); c != ExitArtifact {
		t.Errorf("checksum: exit %d, want 4", c)
	}
}

// cosServer starts the real test/cosserver program serving dir.
func cosServer(t *testing.T, dir string) (base string, presign func(path string, start time.Duration) string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cosserver")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/add2tkectl/add2tkectl/test/cosserver").CombinedOutput(); err != nil {
		t.Fatalf("build cosserver: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", "--dir", dir, "--secret-id", "AKIDcli", "--secret-key", "sk")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base = strings.TrimSpace(strings.TrimPrefix(line, "cosserver listening on "))
	return base, func(path string, start time.Duration) string {
		out, err := exec.Command(bin, "presign", "--secret-id", "AKIDcli", "--secret-key", "sk", "--base", base,
			"--start", start.String(), "--expires", "1h", path).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
}

// TestArtifactsPullFillsAnOfflineDir pulls from a real artifact server with
// presigned URLs, then installs' offline path accepts the directory with
// the network gone.
func TestArtifactsPullFillsAnOfflineDir(t *testing.T) {
	bucket, keys := t.TempDir(), t.TempDir()
	kubelet, pause := bytes.Repeat([]byte("kubelet!"), 4096), []byte("pause image tarball")
	os.WriteFile(filepath.Join(bucket, "kubelet"), kubelet, 0o644)
	os.WriteFile(filepath.Join(bucket, "pause.tar"), pause, 0o644)
	_, presign := cosServer(t, bucket)
	runArtifactsCLI(t, "artifacts", "keygen", "--out", filepath.Join(keys, "k"))
	payload := payloadJSON(
		artifact.Artifact{Name: "kubelet", Version: "v1.35.4", OS: "linux", Arch: "arm64", Kind: "binary",
			URLs: []string{presign("/kubelet", 0)}, Size: int64(len(kubelet)), SHA256: shaHex(kubelet)},
		artifact.Artifact{Name: "image/pause", Version: "3.10", OS: "linux", Arch: "arm64", Kind: "image",
			URLs: []string{presign("/pause.tar", 0)}, Size: int64(len(pause)), SHA256: shaHex(pause)},
		artifact.Artifact{Name: "kubelet", Version: "v1.35.4", OS: "linux", Arch: "amd64", Kind: "binary",
			URLs: []string{"http://127.0.0.1:1/never"}, Size: 1, SHA256: shaHex([]byte("x"))},
	)
	pp := filepath.Join(keys, "payload.json")
	os.WriteFile(pp, payload, 0o644)
	if _, errOut, code := runArtifactsCLI(t, "artifacts", "sign", "--key", filepath.Join(keys, "k.key"), pp,
		"--out", filepath.Join(bucket, "manifest.json")); code != 0 {
		t.Fatal(errOut)
	}
	pub, _ := os.ReadFile(filepath.Join(keys, "k.pub"))
	cfgFile := func(manifestURL string) string {
		raw, err := os.ReadFile(goodConfig)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatal(err)
		}
		doc["artifacts"] = map[string]any{"manifestURL": manifestURL, "publicKey": string(pub)}
		b, _ := yaml.Marshal(doc)
		p := filepath.Join(t.TempDir(), "config.yaml")
		os.WriteFile(p, b, 0o600)
		return p
	}
	root, to := t.TempDir(), filepath.Join(t.TempDir(), "offline")
	manifestURL := presign("/manifest.json", 0)
	out, errOut, code := runArtifactsCLI(t, "artifacts", "pull", "--to", to, "--arch", "arm64",
		"--config", cfgFile(manifestURL), "--root", root, "--no-progress", "-o", "json")
	if code != 0 {
		t.Fatalf("pull: exit %d: %s", code, errOut)
	}
	var res pullResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Artifacts) != 2 {
		t.Fatalf("result %q: %v", out, err)
	}
	for _, want := range []string{"artifact kubelet v1.35.4 linux/arm64: fetching", "artifact image/pause: ok"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("progress lines lack %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "q-signature") {
		t.Errorf("stderr leaks a presigned query:\n%s", errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(to, "image_pause-3.10-linux-arm64")); !bytes.Equal(b, pause) {
		t.Error("image_pause-3.10-linux-arm64 missing or wrong")
	}
	if _, err := os.Stat(filepath.Join(root, paths.CacheDir, shaHex(kubelet))); err != nil {
		t.Errorf("the cache under --root lacks kubelet: %v", err)
	}

	// The directory is what --artifacts-dir reads, with no network.
	m, _, err := artifact.LoadOffline(to, string(pub))
	if err != nil {
		t.Fatal(err)
	}
	f := &artifact.Fetcher{CacheDir: t.TempDir()}
	locals, err := f.Fetch(t.Context(), "", m, "linux", "arm64", to)
	if err != nil || len(locals) != 2 {
		t.Fatalf("offline fetch: %v (%d artifacts)", err, len(locals))
	}

	// An expired manifest link: exit 5 and the message.
	_, errOut, code = runArtifactsCLI(t, "artifacts", "pull", "--to", t.TempDir(),
		"--config", cfgFile(presign("/manifest.json", -2*time.Hour)), "--root", root)
	if code != ExitExpired || !strings.Contains(errOut, "the download link has expired; regenerate the script in the console") {
		t.Errorf("expired link: exit %d, %q", code, errOut)
	}
}

// sign --out writes through a new temporary file beside the target: a
// symlink planted where the old predictable "out.tmp" was, or at the target
// itself, is never followed, and the result is 0600 with nothing left over.
func TestArtifactsSignOutFollowsNoSymlink(t *testing.T) {
	dir := t.TempDir()
	runArtifactsCLI(t, "artifacts", "keygen", "--out", filepath.Join(dir, "k"))
	pp := filepath.Join(dir, "payload.json")
	os.WriteFile(pp, payloadJSON(artifact.Artifact{Name: "kubelet", Version: "v1.35.4", OS: "linux", Arch: "amd64",
		Kind: "binary", URLs: []string{"kubelet"}, Size: 1, SHA256: shaHex([]byte("x"))}), 0o644)
	outDir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	out := filepath.Join(outDir, "manifest.json")
	for _, link := range []string{out + ".tmp", out} {
		os.Remove(link)
		if err := os.Symlink(victim, link); err != nil {
			t.Fatal(err)
		}
		if _, errOut, code := runArtifactsCLI(t, "artifacts", "sign", "--key", filepath.Join(dir, "k.key"), pp, "--out", out); code != 0 {
			t.Fatalf("sign: exit %d: %s", code, errOut)
		}
		if b, _ := os.ReadFile(victim); string(b) != "precious" {
			t.Fatalf("sign wrote through the symlink %s", link)
		}
		st, err := os.Lstat(out)
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v; want a regular file 0600", out, err, st.Mode())
		}
		os.Remove(out + ".tmp")
	}
	if ents, _ := os.ReadDir(outDir); len(ents) != 1 {
		t.Errorf("left beside the envelope: %v", ents)
	}
}

// sign --expires signs an expiry into the payload; pull refuses a manifest
// past it and one for other versions than the configuration's (exit 4,
// naming what to do / both versions), and takes the pool's own.
func TestArtifactsSignExpiresAndPullBindsTheManifest(t *testing.T) {
	keys := t.TempDir()
	runArtifactsCLI(t, "artifacts", "keygen", "--out", filepath.Join(keys, "k"))
	pub, _ := os.ReadFile(filepath.Join(keys, "k.pub"))
	kubelet := []byte("kubelet binary")
	var envelope []byte
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/manifest.json":
			w.Write(envelope)
		case "/kubelet":
			w.Write(kubelet)
		default:
			http.NotFound(w, r)
		}
	}))
	defer s.Close()
	sign := func(version string, args ...string) {
		t.Helper()
		pp := filepath.Join(keys, "payload.json")
		os.WriteFile(pp, payloadJSON(artifact.Artifact{Name: "kubelet", Version: version, OS: "linux", Arch: "amd64",
			Kind: "binary", URLs: []string{"kubelet"}, Size: int64(len(kubelet)), SHA256: shaHex(kubelet)}), 0o644)
		out := filepath.Join(keys, "manifest.json")
		if _, errOut, code := runArtifactsCLI(t, append([]string{"artifacts", "sign", "--key", filepath.Join(keys, "k.key"), pp, "--out", out}, args...)...); code != 0 {
			t.Fatalf("sign: exit %d: %s", code, errOut)
		}
		envelope, _ = os.ReadFile(out)
	}
	raw, _ := os.ReadFile(goodConfig)
	var doc map[string]any
	yaml.Unmarshal(raw, &doc)
	doc["artifacts"] = map[string]any{"manifestURL": s.URL + "/manifest.json", "publicKey": string(pub)}
	b, _ := yaml.Marshal(doc)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, b, 0o600)
	pull := func() (string, int) {
		_, errOut, code := runArtifactsCLI(t, "artifacts", "pull", "--to", t.TempDir(), "--arch", "amd64",
			"--config", cfg, "--root", t.TempDir(), "--no-progress")
		return errOut, code
	}

	sign("v1.35.4", "--expires", "720h")
	m, err := artifact.VerifyManifest(envelope, "", string(pub))
	if err != nil || m.Expires == nil || time.Until(*m.Expires) < 719*time.Hour || time.Until(*m.Expires) > 721*time.Hour {
		t.Fatalf("signed with --expires 720h: %v, expires %v", err, m.Expires)
	}
	if errOut, code := pull(); code != 0 {
		t.Fatalf("pull of the pool's versions: exit %d: %s", code, errOut)
	}
	sign("v1.35.4", "--expires", "1s")
	time.Sleep(1100 * time.Millisecond)
	if errOut, code := pull(); code != ExitArtifact || !strings.Contains(errOut, "regenerate and republish") {
		t.Errorf("expired manifest: exit %d, %q; want 4 saying to republish", code, errOut)
	}
	sign("v1.18.0")
	if errOut, code := pull(); code != ExitArtifact || !strings.Contains(errOut, "kubelet is v1.18.0 in the manifest (linux/amd64) but cluster.kubernetesVersion is 1.35.4") {
		t.Errorf("manifest for kubelet v1.18.0: exit %d, %q; want 4 naming both versions", code, errOut)
	}
	if _, _, code := runArtifactsCLI(t, "artifacts", "sign", "--key", filepath.Join(keys, "k.key"), filepath.Join(keys, "payload.json"), "--expires", "-1h"); code != ExitUsage {
		t.Errorf("--expires -1h: exit %d, want 2", code)
	}
}

// TestArtifactsPullGoesThroughTheSiteProxy: a controller behind the site's
// proxy pulls through it, as install downloads do.
func TestArtifactsPullGoesThroughTheSiteProxy(t *testing.T) {
	var seen atomic.Value
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.String()) // a proxy is asked for the absolute URL
		http.Error(w, "proxy says no", http.StatusBadGateway)
	}))
	t.Cleanup(proxy.Close)
	const manifestURL = "http://cos.invalid.example/manifest.json"
	raw, err := os.ReadFile(goodConfig)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	doc["artifacts"].(map[string]any)["manifestURL"] = manifestURL
	b, _ := yaml.Marshal(doc)
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runArtifactsCLI(t, "artifacts", "pull", "--to", filepath.Join(t.TempDir(), "offline"),
		"--config", cfg, "--root", t.TempDir(), "--no-progress", "--proxy-http", proxy.URL)
	if code == 0 {
		t.Fatal("pull succeeded through a proxy that refuses everything")
	}
	if got, _ := seen.Load().(string); got != manifestURL {
		t.Errorf("the proxy was asked for %q, want %q (stderr: %s)", got, manifestURL, errOut)
	}
}
