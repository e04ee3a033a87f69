//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	installphases "github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// compatSlice is the part of the compatibility matrix `make check` runs: the
// upgrade test's kubelet (built anyway) on Debian 13, so the newest systemd
// (257) and a second minor are proven on every change without another
// kubelet build. `make compat` runs the whole matrix (scripts/e2e/compat.sh).
const compatSlice = "v1.34.5/containerd/trixie"

// environmentKubelet is the control plane's version, whose set is the
// environment's own.
const environmentKubelet = "v1.35.4"

// controlPlaneMinor is the minor of the environment's control plane.
const controlPlaneMinor = 35

// kubeletWarning is what a kubelet says at start about a flag or a field
// of the configuration install wrote: refused, unknown or deprecated.
var kubeletWarning = regexp.MustCompile(`(?i)unknown flag|unknown field|strict decoding|has been deprecated|is deprecated|will be removed|failed to parse|invalid configuration|unrecognized|not supported`)

// dockershimNotice is what a kubelet below 1.24 says whenever it runs
// docker: dockershim itself is deprecated, and so is --network-plugin, which
// has no configuration field and without which its pods get docker's bridge
// instead of CNI. No configuration avoids them.
var dockershimNotice = regexp.MustCompile(`Using dockershim is deprecated|will be removed along with dockershim`)

// podInfraNotice is what a kubelet of 1.24 to 1.28 says of
// --pod-infra-container-image, which install passes all the same: it is
// still what keeps the kubelet's image garbage collector off the sandbox
// image there (pkg/kubelet, minorNoPodInfraImage).
var podInfraNotice = regexp.MustCompile(`Flag --pod-infra-container-image has been deprecated`)

// newerStatusField is the API server relaying that it does not know a field
// of the Node status a newer kubelet reports (1.37's
// status.nodeInfo.runningInUserNamespace before a 1.35 API server): skew,
// not the configuration install wrote.
var newerStatusField = regexp.MustCompile(`warnings\.go:\d+\] "Warning: unknown field \\"status\.`)

// notice says whether a start-up line of a kubelet of minor on runtime is
// one install accepts knowingly: kept in the cell as Notices, not counted as
// warnings.
func notice(runtime string, minor int, line string) bool {
	return runtime == "docker" && minor < config.FirstMinorWithoutDockershim && dockershimNotice.MatchString(line) ||
		minor >= 24 && minor <= 28 && podInfraNotice.MatchString(line)
}

// compatCell is one cell of the matrix and what it showed.
type compatCell struct {
	Kubelet string `json:"kubelet"`
	Runtime string `json:"runtime"`
	Host    string `json:"host"`
	// Healthz is the kubelet's /healthz answer once install's kubelet phase
	// ran; Warnings its start-up lines about our flags and fields.
	Healthz  string   `json:"healthz"`
	Warnings []string `json:"warnings"`
	Notices  []string `json:"notices,omitempty"`
	// SkewWarnings are an older API server's warnings about fields of the
	// Node status a newer kubelet reports.
	SkewWarnings []string `json:"skewWarnings,omitempty"`
	// Ready is whether the Node turned Ready, with the pool's labels, taints
	// and cordon; InSkew whether the kubelet is within the control plane's
	// supported skew (Ready is required there).
	Ready    bool   `json:"ready"`
	InSkew   bool   `json:"inSkew"`
	NotReady string `json:"notReady,omitempty"`
	// NewerRefused is whether preflight refused a kubelet newer than the
	// API server before the cell asked past it.
	NewerRefused bool    `json:"newerRefused,omitempty"`
	InstallExit  int     `json:"installExit"`
	Install      float64 `json:"installSeconds"`
	// Clean is whether uninstall gave the host back as it was.
	Clean   bool    `json:"clean"`
	Failed  bool    `json:"failed"`
	Seconds float64 `json:"seconds"`
}

// TestCompatMatrix runs each cell of $E2E_COMPAT (VERSION/RUNTIME/HOST,
// space-separated; compatSlice when unset) on a fresh host of that Debian
// release: install at that kubernetesVersion with that kubelet, the
// kubelet's health and start-up warnings, a Ready Node with the pool's
// settings where the skew allows, and uninstall back to the host as it was.
// Each cell's figures go to $E2E_COMPAT_RESULTS (JSON lines) for the table
// compat.sh prints.
func TestCompatMatrix(t *testing.T) {
	cells := strings.Fields(os.Getenv("E2E_COMPAT"))
	if len(cells) == 0 {
		cells = []string{compatSlice}
	}
	for _, c := range cells {
		parts := strings.Split(c, "/")
		if len(parts) != 3 {
			t.Fatalf("E2E_COMPAT cell %q: want VERSION/RUNTIME/HOST, e.g. v1.34.5/containerd/bookworm", c)
		}
		t.Run(strings.ReplaceAll(c, "/", "-"), func(t *testing.T) {
			cell := &compatCell{Kubelet: parts[0], Runtime: parts[1], Host: parts[2], InstallExit: -1}
			start := time.Now()
			defer func() {
				cell.Seconds = time.Since(start).Seconds()
				cell.Failed = t.Failed()
				if f := os.Getenv("E2E_COMPAT_RESULTS"); f != "" {
					appendJSONLine(t, f, cell)
				}
			}()
			runCompatCell(t, cell)
		})
	}
}

// runCompatCell fills cell as it goes: a cell that stops early still
// reports how far it got.
func runCompatCell(t *testing.T, cell *compatCell) {
	version, runtime, suite := cell.Kubelet, cell.Runtime, cell.Host
	minor := minorOf(t, version)
	// A kubelet up to 3 minors older than the control plane is in skew.
	cell.InSkew = minor >= controlPlaneMinor-3 && minor <= controlPlaneMinor

	settings := []string{"E2E_POOL_RUNTIME=" + runtime, "E2E_POOL_USER_SCRIPT=echo joined", "E2E_POOL_CORDON=true"}
	var envs []string
	switch {
	case suite == "bullseye":
		// Debian 11's glibc is older than Debian 12's builds of containerd,
		// runc and the CNI plugins need: the portable set.
		if version != environmentKubelet || runtime != "containerd" {
			t.Fatalf("a Debian 11 host takes the portable set: containerd at %s only", environmentKubelet)
		}
		envs = portableSetEnv(t)
		settings = append(settings, "E2E_POOL_RUNTIME_VERSION="+containerd2Version)
	default:
		envs = setEnv(t, version)
	}

	h := env.FreshHostOn(t, "host2", suite)
	bin := h.InstallBundle(t, env.Bundle(t, settings...))
	before := snapshot(t, h)

	wait := 3 * time.Minute
	if !cell.InSkew {
		wait = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait+2*time.Minute)
	defer cancel()
	args := []string{"install", "-o", "json", "--no-progress", "--timeout", wait.String()}
	if minor > controlPlaneMinor {
		// A kubelet newer than the API server is refused by preflight
		// (exit 3) before anything changes; the cell then asks past it to
		// see that kubelet start with the configuration of its minor.
		res, err := withEnv(ctx, h, envs, append([]string{bin}, args...)...)
		if err != nil {
			t.Fatalf("install: %v", err)
		}
		if res.ExitCode != 3 || !strings.Contains(res.Stdout+res.Stderr, "newer than the API server") {
			t.Errorf("install of kubelet %s against a 1.%d control plane: exit %d, want 3 saying the kubelet is newer than the API server\n%s",
				version, controlPlaneMinor, res.ExitCode, res.Stderr)
		}
		// The refusal is journaled for status (preflight failed, with its
		// reason); nothing else may change.
		var changed []string
		for _, l := range diffSnapshots(before, snapshot(t, h)) {
			if !strings.Contains(l, " "+paths.StateDir) {
				changed = append(changed, l)
			}
		}
		if len(changed) > 0 {
			t.Errorf("a refused install changed the host:\n%s", strings.Join(changed, "\n"))
		}
		var j phase.Journal
		raw := h.Sh(t, time.Minute, `cat `+paths.JournalPath)
		if err := json.Unmarshal([]byte(raw), &j); err != nil {
			t.Errorf("the journal after the refusal: %v\n%s", err, raw)
		} else if p := j.Phase(installphases.PhasePreflight); p == nil || p.Status != phase.StatusFailed || !strings.Contains(p.Error, "newer than the API server") || len(j.Phases) != 1 {
			t.Errorf("the journal does not record the refusal alone (preflight failed, saying why):\n%s", raw)
		}
		cell.NewerRefused = res.ExitCode == 3
		args = append(args, "--ignore-preflight-errors=kubelet-version")
	}
	istart := time.Now()
	res, err := withEnv(ctx, h, envs, append([]string{bin}, args...)...)
	cell.Install = time.Since(istart).Seconds()
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	cell.InstallExit = res.ExitCode
	var r phase.Result
	_ = json.Unmarshal([]byte(res.Stdout), &r)
	t.Logf("install %s %s on %s: exit %d in %.1fs, phases %+v", version, runtime, suite, res.ExitCode, cell.Install, r.Phases)

	cell.Healthz = strings.TrimSpace(h.Sh(t, time.Minute, `curl -sS -m 5 http://127.0.0.1:10248/healthz 2>&1 || true`))
	journal := h.Sh(t, time.Minute, `journalctl -u kubelet.service -o cat --no-pager`)
	for _, l := range strings.Split(journal, "\n") {
		if notice(runtime, minor, l) {
			cell.Notices = append(cell.Notices, strings.TrimSpace(l))
			continue
		}
		if minor > controlPlaneMinor && newerStatusField.MatchString(l) {
			// The older API server's word on the kubelet's own Node status.
			cell.SkewWarnings = append(cell.SkewWarnings, strings.TrimSpace(l))
			continue
		}
		if kubeletWarning.MatchString(l) {
			cell.Warnings = append(cell.Warnings, strings.TrimSpace(l))
		}
	}
	if cell.Healthz != "ok" {
		t.Errorf("kubelet %s /healthz: %q, want ok", version, cell.Healthz)
	}
	if len(cell.Warnings) > 0 {
		t.Errorf("kubelet %s warns about the configuration install wrote:\n%s", version, strings.Join(cell.Warnings, "\n"))
	}

	var n *corev1.Node
	if res.ExitCode == 0 {
		n, err = env.WaitNodeReady(ctx, h.Name)
	} else {
		err = fmt.Errorf("install exited %d: %s", res.ExitCode, lastLine(res.Stderr))
	}
	if err == nil {
		cell.Ready = true
		if v := n.Status.NodeInfo.KubeletVersion; v != version {
			t.Errorf("Node kubelet %s, want %s", v, version)
		}
		checkPoolNode(t, h, n, true)
	} else {
		cell.NotReady = err.Error()
		if cell.InSkew {
			t.Errorf("kubelet %s is within the control plane's skew and the Node is not Ready: %v\n%s", version, err, res.Stderr)
		} else {
			t.Logf("kubelet %s, outside the control plane's skew, is not Ready: %v", version, err)
		}
	}

	runUninstall(t, h, bin)
	if d := diffSnapshots(before, snapshot(t, h)); len(d) > 0 {
		t.Errorf("the host differs from before install (-before +after):\n%s", strings.Join(d, "\n"))
	} else {
		cell.Clean = true
	}
}

// minorOf is the minor of a Kubernetes version such as v1.34.5.
func minorOf(t *testing.T, version string) int {
	t.Helper()
	v, err := config.ParseKubernetesVersion(version)
	if err != nil {
		t.Fatalf("version %q: %v", version, err)
	}
	return v.Minor
}

// portableSetEnv publishes the portable set (scripts/e2e/build-portable.sh)
// and is install's environment for it.
func portableSetEnv(t *testing.T) []string {
	t.Helper()
	for _, s := range []string{"build-containerd2.sh", "build-portable.sh"} {
		if out, err := scriptOutput(s); err != nil {
			t.Fatalf("scripts/e2e/%s: %v\n%s", s, err, out)
		}
	}
	if out, err := scriptOutput("artifacts.sh", "publish-portable"); err != nil {
		t.Fatalf("artifacts.sh publish-portable: %v\n%s", err, out)
	}
	url := strings.TrimSpace(string(mustRead(t, env.Var(t, "E2E_STATE")+"/manifest-url-portable")))
	return []string{"ADD2TKE_ARTIFACTS_MANIFESTURL=" + url, "ADD2TKE_NODEPOOL_RUNTIME_VERSION=" + containerd2Version}
}

func scriptOutput(name string, args ...string) (string, error) {
	var b strings.Builder
	err := script(env.Root, &b, name, args...)
	return b.String(), err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func appendJSONLine(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
}
