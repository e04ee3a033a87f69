//go:build e2e

// Package e2e drives add2tkectl against real parts: a kube-apiserver, etcd and
// kube-controller-manager built from the Go module proxy, an artifact server
// with COS semantics, and systemd-nspawn hosts with systemd as PID 1 on a
// private network. scripts/e2e/ builds and runs the environment; this file is
// the Go side: bring it up once per `go test`, give each test a pristine host,
// run commands in it, and keep every log of a failed test in one directory.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// Env is the environment as scripts/e2e/env describes it.
type Env struct {
	Root   string            // repository root
	Vars   map[string]string // scripts/e2e/env --json
	Client kubernetes.Interface
}

// env is set by TestMain before any test runs.
var env *Env

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// runMain brings the environment up (scripts/e2e/up is idempotent and takes
// seconds when everything is built), runs the tests, and takes the environment
// down again when this run brought it up, unless E2E_KEEP is set.
func runMain(m *testing.M) int {
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e: the end-to-end tests need root (network namespaces, nspawn, cgroups)")
		return 1
	}
	// One run at a time on a machine: the environment (netns names, addresses,
	// hosts) is shared, and `make demo` takes the same lock.
	unlock, err := lockMachine()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer unlock()
	os.Setenv("E2E_LOCKED", "1") // the scripts run under this lock
	wasUp := exec.Command(filepath.Join(root, "scripts/e2e/env")).Run() == nil
	if !wasUp && os.Getenv("E2E_KEEP") == "" {
		defer func() {
			if err := script(root, os.Stderr, "down"); err != nil {
				fmt.Fprintln(os.Stderr, "e2e: scripts/e2e/down:", err)
			}
		}()
	}
	start := time.Now()
	if err := script(root, os.Stderr, "up"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: scripts/e2e/up:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: environment ready in %s\n", time.Since(start).Round(time.Millisecond))
	env, err = loadEnv(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	return m.Run()
}

// lockPath is shared with scripts/e2e (lock_machine in lib.sh).
const lockPath = "/run/add2tkectl-e2e.lock"

// lockMachine takes the machine-wide e2e lock, waiting up to an hour for a
// run that holds it.
func lockMachine() (func(), error) {
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(time.Hour)
	for said := false; ; {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", lockPath, err)
		}
		if !said {
			fmt.Fprintf(os.Stderr, "e2e: waiting for another end-to-end run or demo to finish (%s)\n", lockPath)
			said = true
		}
		time.Sleep(time.Second)
	}
	return func() { f.Close() }, nil
}

func repoRoot() (string, error) {
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err == nil {
		return strings.TrimSpace(string(out)), nil
	}
	// go test runs in the package directory: test/e2e
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return filepath.Abs(filepath.Join(wd, "../.."))
}

// script runs scripts/e2e/NAME ARGS with its progress on w.
func script(root string, w io.Writer, name string, args ...string) error {
	cmd := exec.Command(filepath.Join(root, "scripts/e2e", name), args...)
	cmd.Stdout, cmd.Stderr = w, w
	return cmd.Run()
}

func loadEnv(root string) (*Env, error) {
	out, err := exec.Command(filepath.Join(root, "scripts/e2e/env"), "--json").Output()
	if err != nil {
		return nil, fmt.Errorf("scripts/e2e/env: %w", err)
	}
	e := &Env{Root: root}
	if err := json.Unmarshal(out, &e.Vars); err != nil {
		return nil, fmt.Errorf("scripts/e2e/env --json: %w", err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", e.Vars["KUBECONFIG"])
	if err != nil {
		return nil, fmt.Errorf("admin kubeconfig: %w", err)
	}
	cfg.Timeout = 30 * time.Second
	if e.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	return e, nil
}

// Var returns a variable of scripts/e2e/env, failing the test when it is empty.
func (e *Env) Var(t testing.TB, name string) string {
	t.Helper()
	v := e.Vars[name]
	if v == "" {
		t.Fatalf("scripts/e2e/env has no %s", name)
	}
	return v
}

// Host is one nspawn host: systemd as PID 1, its own netns at IP.
type Host struct {
	Name string
	IP   string
	env  *Env
}

// FreshHost gives the test a pristine host: booted from the cached rootfs
// with nothing of a previous test (overlay upper dir, containerd dir and its
// Node object are gone). When the test fails, its logs and the control
// plane's are kept under $E2E_LOGS/<test>.
func (e *Env) FreshHost(t *testing.T, name string) *Host {
	t.Helper()
	return e.FreshHostOn(t, name, "")
}

// FreshHostOn is FreshHost booted from the rootfs of another Debian release
// (bullseye, trixie; "" is the environment's bookworm), built first when
// this machine has none (about a minute).
func (e *Env) FreshHostOn(t *testing.T, name, suite string) *Host {
	t.Helper()
	n := strings.TrimPrefix(name, "host")
	if len(n) != 1 || n < "1" || n > "3" {
		t.Fatalf("no host %q: host1..host3", name)
	}
	start := time.Now()
	var out bytes.Buffer
	if suite != "" && suite != "bookworm" {
		build := exec.Command(filepath.Join(e.Root, "scripts/e2e/build-rootfs.sh"))
		build.Env = append(os.Environ(), "E2E_HOST_SUITE="+suite)
		build.Stdout, build.Stderr = &out, &out
		if err := build.Run(); err != nil {
			t.Fatalf("scripts/e2e/build-rootfs.sh for %s: %v\n%s", suite, err, out.String())
		}
		out.Reset()
	}
	if suite == "" {
		suite = "bookworm"
	}
	reset := exec.Command(filepath.Join(e.Root, "scripts/e2e/reset"), name)
	reset.Env = append(os.Environ(), "E2E_HOST_SUITE="+suite)
	reset.Stdout, reset.Stderr = &out, &out
	if err := reset.Run(); err != nil {
		t.Fatalf("scripts/e2e/reset %s: %v\n%s", name, err, out.String())
	}
	t.Logf("%s pristine in %s", name, time.Since(start).Round(time.Millisecond))
	h := &Host{Name: name, IP: "10.77.0.1" + n, env: e}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("E2E_LOGS_ALWAYS") != "" {
			e.CollectLogs(t, h)
		}
	})
	return h
}

// Result of a command in a host.
type Result struct {
	Stdout, Stderr string
	ExitCode       int
}

// Exec runs args in the host as root (scripts/e2e/exec) with stdin, and
// returns its output and exit code. err is set only when it could not run.
func (h *Host) Exec(ctx context.Context, stdin io.Reader, args ...string) (Result, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(h.env.Root, "scripts/e2e/exec"), append([]string{h.Name}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	if errors.As(err, &exit) && ctx.Err() == nil {
		res.ExitCode = exit.ExitCode()
		return res, nil
	}
	return res, err
}

// Run runs args in the host and fails the test unless it exits 0; it returns stdout.
func (h *Host) Run(t testing.TB, timeout time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := h.Exec(ctx, nil, args...)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%s: %q: exit %d, err %v\nstdout:\n%s\nstderr:\n%s", h.Name, args, res.ExitCode, err, res.Stdout, res.Stderr)
	}
	return res.Stdout
}

// Sh runs a bash script in the host (set -euo pipefail) and fails the test unless it exits 0.
func (h *Host) Sh(t testing.TB, timeout time.Duration, script string) string {
	t.Helper()
	return h.Run(t, timeout, "bash", "-c", "set -euo pipefail\n"+script)
}

// WriteFile writes data to path in the host (atomically: temp file, then rename).
func (h *Host) WriteFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script := fmt.Sprintf(`set -eu; mkdir -p "$(dirname %[1]q)"; cat > %[1]q.tmp; chmod %[2]o %[1]q.tmp; mv %[1]q.tmp %[1]q`, path, mode.Perm())
	res, err := h.Exec(ctx, bytes.NewReader(data), "sh", "-c", script)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%s: write %s: exit %d, err %v: %s", h.Name, path, res.ExitCode, err, res.Stderr)
	}
}

// CopyFile copies a file of this machine to path in the host.
func (h *Host) CopyFile(t testing.TB, local, path string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	h.WriteFile(t, path, data, mode)
}

// WaitNodeReady waits until the Node named name is Ready and returns it.
func (e *Env) WaitNodeReady(ctx context.Context, name string) (*corev1.Node, error) {
	var last string
	err := poll(ctx, func(ctx context.Context) (bool, error) {
		n, err := e.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			last = "not registered"
			return false, nil
		}
		if err != nil {
			last = err.Error()
			return false, nil
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				last = fmt.Sprintf("Ready=%s (%s: %s)", c.Status, c.Reason, c.Message)
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		last = "no Ready condition"
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("node %s not Ready: %s: %w", name, last, err)
	}
	return e.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
}

// poll calls cond with a growing interval (50 ms to 1 s) until it returns true,
// an error, or ctx ends.
func poll(ctx context.Context, cond func(context.Context) (bool, error)) error {
	delay := 50 * time.Millisecond
	for {
		ok, err := cond(ctx)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay < time.Second {
			delay *= 2
		}
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// testLogs is where CollectLogs keeps the logs of this run's failed tests:
// $E2E_TEST_LOGS (default /var/log/add2tkectl-e2e) / <start time of the run>.
// Outside $E2E_STATE, so that they survive scripts/e2e/down.
var testLogs = func() string {
	dir := os.Getenv("E2E_TEST_LOGS")
	if dir == "" {
		dir = "/var/log/add2tkectl-e2e"
	}
	return filepath.Join(dir, time.Now().Format("20060102-150405"))
}()

// CollectLogs keeps, under testLogs/<test>/: the control plane's and the
// artifact server's logs, and for each host its journal (whole, kubelet,
// containerd), failed units, mounts, processes and /var/log/add2tkectl; plus
// the Nodes and CSRs as the API server has them.
func (e *Env) CollectLogs(t *testing.T, hosts ...*Host) {
	dir := filepath.Join(testLogs, unsafeName.ReplaceAllString(t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("collect logs: %v", err)
		return
	}
	for _, f := range []string{"etcd.log", "kube-apiserver.log", "kube-controller-manager.log", "kube-scheduler.log", "cosserver.log"} {
		// component logs are live files in $E2E_STATE/logs
		if data, err := os.ReadFile(filepath.Join(e.Vars["E2E_LOGS"], f)); err == nil {
			_ = os.WriteFile(filepath.Join(dir, f), data, 0o644)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, h := range hosts {
		for file, cmd := range map[string]string{
			"journal.log":          "journalctl -b --no-pager -o short-precise",
			"kubelet.log":          "journalctl -u kubelet --no-pager -o short-precise",
			"containerd.log":       "journalctl -u containerd --no-pager -o short-precise",
			"docker.log":           "journalctl -u docker -u cri-docker --no-pager -o short-precise",
			"units.txt":            "systemctl list-units --all --no-pager; systemctl --failed --no-pager",
			"mounts.txt":           "cat /proc/self/mountinfo",
			"ps.txt":               "ps -eo pid,ppid,stat,etime,cmd",
			"add2tkectl-logs.txt":  "for f in /var/log/add2tkectl/*; do echo \"== $f\"; cat \"$f\"; done",
			"userscript-logs.txt":  "for f in /usr/local/qcloud/tke/userscript/*; do echo \"== $f\"; cat \"$f\"; done",
			"add2tkectl-state.txt": "cat /var/lib/add2tkectl/state.json",
			"cloud-init.log":       "cloud-init status --long; cat /var/log/cloud-init.log /var/log/cloud-init-output.log",
			"firstboot.txt":        "cat /var/lib/add2tkectl/firstboot.json; journalctl -u add2tkectl-install --no-pager -o short-precise",
		} {
			res, err := h.Exec(ctx, nil, "bash", "-c", cmd+" 2>&1")
			if err != nil {
				res.Stdout += "\nexec: " + err.Error()
			}
			_ = os.WriteFile(filepath.Join(dir, h.Name+"-"+file), []byte(res.Stdout), 0o644)
		}
		if data, err := os.ReadFile(filepath.Join(e.Vars["E2E_STATE"], "hosts", h.Name, "console.log")); err == nil {
			_ = os.WriteFile(filepath.Join(dir, h.Name+"-console.log"), data, 0o644)
		}
	}
	if nodes, err := e.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		writeYAML(filepath.Join(dir, "nodes.yaml"), nodes)
	}
	if csrs, err := e.Client.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{}); err == nil {
		writeYAML(filepath.Join(dir, "csrs.yaml"), csrs)
	}
	t.Logf("logs kept in %s", dir)
}

func writeYAML(path string, v any) {
	if data, err := yaml.Marshal(v); err == nil {
		_ = os.WriteFile(path, data, 0o644)
	}
}

// Bundle writes the sample pool configuration (scripts/e2e/pool.sh) into a
// directory of the test and bundles add2tkectl with it, as the console would;
// it returns the bundled binary's path. settings are extra E2E_POOL_* variables,
// e.g. "E2E_POOL_RUNTIME=docker", "E2E_POOL_CORDON=false".
func (e *Env) Bundle(t testing.TB, settings ...string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(filepath.Join(e.Root, "scripts/e2e/pool.sh"))
	cmd.Env = append(append(os.Environ(), "E2E_POOL_DIR="+dir), settings...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/e2e/pool.sh: %v\n%s", err, out)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "bundle", "add2tkectl-*"))
	if len(matches) != 1 {
		t.Fatalf("scripts/e2e/pool.sh bundled %d binaries, want 1", len(matches))
	}
	return matches[0]
}

// InstallBundle copies a bundled binary into the host's /root, keeping its
// name (it carries the cluster and pool IDs), and returns its path there.
func (h *Host) InstallBundle(t testing.TB, bundle string) string {
	t.Helper()
	path := "/root/" + filepath.Base(bundle)
	h.CopyFile(t, bundle, path, 0o700)
	return path
}

// driverNetns is the network namespace of the control plane, the artifact
// server and the tests' own servers (proxy, registry mirror).
const driverNetns = "a2t-e2e"

// rejectFromHost rejects the host's TCP connections to port in the driver
// netns (a reset, as a closed port gives) until unblock or the test's end.
func rejectFromHost(t *testing.T, h *Host, port int) (unblock func()) {
	t.Helper()
	rule := []string{"INPUT", "-s", h.IP, "-p", "tcp", "--dport", strconv.Itoa(port), "-j", "REJECT", "--reject-with", "tcp-reset"}
	ipt := func(op string) error {
		out, err := exec.Command("ip", append([]string{"netns", "exec", driverNetns, "iptables", op}, rule...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("iptables %s %v: %v: %s", op, rule, err, out)
		}
		return nil
	}
	if err := ipt("-I"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	unblock = func() {
		once.Do(func() {
			if err := ipt("-D"); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(unblock)
	return unblock
}
