package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

// lab is the e2e environment as the fault matrix uses it: one host, a
// private artifact server, bundles built from one commit.
type lab struct {
	root    string            // repository root
	vars    map[string]string // scripts/e2e/env --json
	host    string            // host1..host3
	ip      string            // the host's private address
	work    string            // this run's directory
	bin     string            // add2tkectl built from the commit under test
	cosBin  string            // cosserver of the same commit
	commit  string            // what was built
	cos     *exec.Cmd         // the private artifact server
	cosID   string            // its credentials
	cosKey  string
	payload payload // the artifact set, relative URLs
	bundle  string  // the bundle with links valid for hours, on this machine
	lock    *os.File
	log     io.Writer
	// phaseSeconds are the baseline install's phase durations, the window
	// of the kills at random instants.
	phaseSeconds map[string]float64
}

// The private artifact server: cosserver --faults on its own port in the
// driver netns, so that faults and counters concern this run's host only.
const cosPort = "8081"

type payload struct {
	SchemaVersion int        `json:"schemaVersion"`
	Artifacts     []artifact `json:"artifacts"`
}

type artifact struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	OS      string   `json:"os"`
	Arch    string   `json:"arch"`
	Kind    string   `json:"kind"`
	URLs    []string `json:"urls"`
	Size    int64    `json:"size"`
	SHA256  string   `json:"sha256"`
}

// objectPaths are the bucket paths of the artifacts, as /_stats and
// /_faults name them.
func (l *lab) objectPaths() []string {
	var out []string
	for _, a := range l.payload.Artifacts {
		for _, u := range a.URLs {
			out = append(out, "/"+strings.TrimPrefix(u, "/"))
		}
	}
	return out
}

// setSize is the bytes of the artifacts one install downloads: the
// configured runtime's (containerd) and the rest, not docker's.
func (l *lab) setSize() int64 {
	var n int64
	for _, a := range l.payload.Artifacts {
		if a.Name == "docker" || a.Name == "cri-dockerd" {
			continue
		}
		n += a.Size
	}
	return n
}

func (l *lab) artifactByName(name string) (artifact, bool) {
	for _, a := range l.payload.Artifacts {
		if a.Name == name {
			return a, true
		}
	}
	return artifact{}, false
}

func (l *lab) logf(format string, a ...any) {
	fmt.Fprintf(l.log, "%s faults: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, a...))
}

func newLab(ctx context.Context, root, host string, log io.Writer) (*lab, error) {
	l := &lab{root: root, host: host, ip: "10.77.0.1" + strings.TrimPrefix(host, "host"), log: log}
	out, err := exec.CommandContext(ctx, filepath.Join(root, "scripts/e2e/env"), "--json").Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/e2e/env: the environment is not up (scripts/e2e/up): %w", err)
	}
	if err := json.Unmarshal(out, &l.vars); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(l.vars["ARTIFACTS_DIR"], "payload.json"))
	if err != nil {
		return nil, fmt.Errorf("the artifact set: %w", err)
	}
	if err := json.Unmarshal(data, &l.payload); err != nil {
		return nil, fmt.Errorf("%s/payload.json: %w", l.vars["ARTIFACTS_DIR"], err)
	}
	if l.work, err = os.MkdirTemp("", "add2tkectl-faults-"); err != nil {
		return nil, err
	}
	return l, nil
}

// build builds add2tkectl and cosserver from the committed tree (HEAD, or
// $FAULTS_COMMIT), not the working tree others may be editing.
func (l *lab) build(ctx context.Context, rev string) error {
	out, err := exec.CommandContext(ctx, "git", "-C", l.root, "rev-parse", "--short", rev).Output()
	if err != nil {
		return fmt.Errorf("git rev-parse %s: %w", rev, err)
	}
	l.commit = strings.TrimSpace(string(out))
	src := filepath.Join(l.work, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	archive := fmt.Sprintf("git -C %q archive %s | tar -x -C %q", l.root, l.commit, src)
	if out, err := exec.CommandContext(ctx, "bash", "-c", "set -o pipefail; "+archive).CombinedOutput(); err != nil {
		return fmt.Errorf("git archive %s: %v: %s", l.commit, err, out)
	}
	l.bin, l.cosBin = filepath.Join(l.work, "add2tkectl"), filepath.Join(l.work, "cosserver")
	for bin, pkg := range map[string]string{l.bin: "./cmd/add2tkectl", l.cosBin: "./test/cosserver"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, pkg)
		cmd.Dir, cmd.Env = src, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s at %s: %v: %s", pkg, l.commit, err, out)
		}
	}
	return os.RemoveAll(src)
}

// serve starts the private artifact server on a bucket of hard links to the
// artifact set.
func (l *lab) serve(ctx context.Context) error {
	bucket := filepath.Join(l.work, "bucket")
	if err := os.MkdirAll(bucket, 0o755); err != nil {
		return err
	}
	for _, p := range l.objectPaths() {
		from, to := filepath.Join(l.vars["ARTIFACTS_DIR"], p), filepath.Join(bucket, p)
		if err := os.Link(from, to); err != nil && !errors.Is(err, os.ErrExist) {
			if out, err := exec.Command("cp", from, to).CombinedOutput(); err != nil {
				return fmt.Errorf("bucket: %s: %s", p, out)
			}
		}
	}
	l.cosID, l.cosKey = "AKIDfaults"+randomHex(8), randomHex(16)
	logf, err := os.Create(filepath.Join(l.work, "cosserver.log"))
	if err != nil {
		return err
	}
	l.cos = exec.Command("ip", "netns", "exec", "a2t-e2e", l.cosBin, "serve", "--dir", bucket,
		"--listen", "10.77.0.1:"+cosPort, "--secret-id", l.cosID, "--secret-key", l.cosKey, "--faults")
	l.cos.Stdout, l.cos.Stderr = logf, logf
	l.cos.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := l.cos.Start(); err != nil {
		return err
	}
	for i := 0; i < 100; i++ {
		if _, err := l.stats(ctx); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the private artifact server did not answer at %s; see %s", l.cosBase(), logf.Name())
}

func (l *lab) cosBase() string { return "http://10.77.0.1:" + cosPort }

func (l *lab) stop() {
	if l.cos != nil && l.cos.Process != nil {
		_ = l.cos.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = l.cos.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = l.cos.Process.Kill()
		}
	}
	l.unlock()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// publish signs a manifest of the artifact set whose links are valid for
// expires from now, and bundles add2tkectl with the sample pool pointed at
// it. It returns the bundle's path on this machine.
func (l *lab) publish(ctx context.Context, name string, expires time.Duration) (string, error) {
	dir := filepath.Join(l.work, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	p := l.payload
	p.Artifacts = nil
	for _, a := range l.payload.Artifacts {
		var urls []string
		for _, u := range a.URLs {
			signed, err := l.presign(ctx, "/"+strings.TrimPrefix(u, "/"), expires)
			if err != nil {
				return "", err
			}
			urls = append(urls, signed)
		}
		a.URLs = urls
		p.Artifacts = append(p.Artifacts, a)
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "payload.json"), data, 0o600); err != nil {
		return "", err
	}
	object := "/manifest-" + name + ".json"
	if out, err := exec.CommandContext(ctx, l.bin, "artifacts", "sign", "--key", l.vars["ARTIFACT_KEY"],
		filepath.Join(dir, "payload.json"), "--out", filepath.Join(l.work, "bucket", object)).CombinedOutput(); err != nil {
		return "", fmt.Errorf("artifacts sign: %v: %s", err, out)
	}
	murl, err := l.presign(ctx, object, 3*time.Hour)
	if err != nil {
		return "", err
	}
	// The sample pool of pool.sh, with this manifest.
	pool := exec.CommandContext(ctx, filepath.Join(l.root, "scripts/e2e/pool.sh"))
	pool.Env = append(os.Environ(), "E2E_POOL_DIR="+dir)
	if out, err := pool.CombinedOutput(); err != nil {
		return "", fmt.Errorf("scripts/e2e/pool.sh: %v: %s", err, out)
	}
	cfgPath := filepath.Join(dir, "pool.yaml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		return "", err
	}
	re := regexp.MustCompile(`(?m)^(\s*manifestURL:).*$`)
	if !re.Match(cfg) {
		return "", fmt.Errorf("%s has no manifestURL", cfgPath)
	}
	cfg = re.ReplaceAll(cfg, []byte(`${1} "`+murl+`"`))
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "bundle")
	_ = os.RemoveAll(out)
	if b, err := exec.CommandContext(ctx, l.bin, "bundle", "--config", cfgPath, "--out", out).CombinedOutput(); err != nil {
		return "", fmt.Errorf("bundle: %v: %s", err, b)
	}
	m, _ := filepath.Glob(filepath.Join(out, "add2tkectl-*"))
	if len(m) != 1 {
		return "", fmt.Errorf("bundle wrote %d binaries to %s, want 1", len(m), out)
	}
	return m[0], nil
}

func (l *lab) presign(ctx context.Context, object string, expires time.Duration) (string, error) {
	out, err := exec.CommandContext(ctx, l.cosBin, "presign", "--secret-id", l.cosID, "--secret-key", l.cosKey,
		"--base", l.cosBase(), "--expires", expires.String(), object).Output()
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", object, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// The machine-wide lock of scripts/e2e (lock_machine in lib.sh) and the Go
// harness: held for each trial, so that nobody resets the host mid-trial and
// other runs get their turn between trials.
const machineLock = "/run/add2tkectl-e2e.lock"

func (l *lab) lockMachine(ctx context.Context) error {
	f, err := os.OpenFile(machineLock, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			l.lock = f
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return fmt.Errorf("lock %s: %w", machineLock, err)
		}
		if !said {
			l.logf("waiting for another end-to-end run to finish (%s)", machineLock)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (l *lab) unlock() {
	if l.lock != nil {
		l.lock.Close()
		l.lock = nil
	}
}

// fresh gives the trial a pristine host with the bundle at /root and the
// artifact server without faults or counts. The caller holds the lock.
func (l *lab) fresh(ctx context.Context, bundle string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(l.root, "scripts/e2e/reset"), l.host)
	cmd.Env = append(os.Environ(), "E2E_LOCKED=1") // held by this process
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("scripts/e2e/reset %s: %v: %s", l.host, err, out)
	}
	if err := l.clearFaults(ctx); err != nil {
		return "", err
	}
	if err := l.admin(ctx, http.MethodDelete, "/_stats", nil); err != nil {
		return "", err
	}
	return l.copyBundle(ctx, bundle, "/root")
}

// copyBundle puts a bundle into the host's directory dir under its own name.
func (l *lab) copyBundle(ctx context.Context, bundle, dir string) (string, error) {
	f, err := os.Open(bundle)
	if err != nil {
		return "", err
	}
	defer f.Close()
	dst := dir + "/" + filepath.Base(bundle)
	r := l.exec(ctx, time.Minute, f, fmt.Sprintf("mkdir -p %[2]s && cat > %[1]s.tmp && chmod 700 %[1]s.tmp && mv %[1]s.tmp %[1]s", dst, dir))
	if r.err != nil || r.code != 0 {
		return "", fmt.Errorf("copy the bundle into %s: exit %d %v: %s", l.host, r.code, r.err, r.stderr)
	}
	return dst, nil
}

// result of a command in the host.
type result struct {
	stdout, stderr string
	code           int
	err            error // it could not run, or timed out
}

// exec runs a bash script in the host (scripts/e2e/exec), bounded in time.
func (l *lab) exec(ctx context.Context, timeout time.Duration, stdin io.Reader, script string) result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(l.root, "scripts/e2e/exec"), l.host, "bash", "-c", "set -uo pipefail\n"+script)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.err, r.code = fmt.Errorf("timed out after %s", timeout), -1
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		r.err, r.code = err, -1
	}
	return r
}

func (l *lab) admin(ctx context.Context, method, path string, body any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.cosBase()+path, rd)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	return nil
}

// fault is what cosserver's /_faults takes (test/cosserver Fault).
type fault struct {
	Path          string `json:"path,omitempty"`
	Times         int    `json:"times,omitempty"`
	Status        int    `json:"status,omitempty"`
	ResetAfter    int64  `json:"resetAfter,omitempty"`
	ResetEvery    int64  `json:"resetEvery,omitempty"`
	TruncateAfter int64  `json:"truncateAfter,omitempty"`
	Rate          int64  `json:"rate,omitempty"`
	Corrupt       bool   `json:"corrupt,omitempty"`
	Stall         string `json:"stall,omitempty"`
	StallAfter    int64  `json:"stallAfter,omitempty"`
}

func (l *lab) inject(ctx context.Context, fs []fault) error {
	return l.admin(ctx, http.MethodPost, "/_faults", fs)
}

func (l *lab) clearFaults(ctx context.Context) error {
	return l.admin(ctx, http.MethodDelete, "/_faults", nil)
}

type pathStats struct {
	Requests int            `json:"requests"`
	Bytes    int64          `json:"bytes"`
	Status   map[string]int `json:"status"`
}

func (l *lab) stats(ctx context.Context) (map[string]*pathStats, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.cosBase()+"/_stats", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var st map[string]*pathStats
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// artifactBytes is the body bytes served for the artifacts (not manifests)
// since the counters were last reset.
func (l *lab) artifactBytes(ctx context.Context) int64 {
	st, err := l.stats(ctx)
	if err != nil {
		return 0
	}
	var n int64
	for _, p := range l.objectPaths() {
		if s := st[p]; s != nil {
			n += s.Bytes
		}
	}
	return n
}
