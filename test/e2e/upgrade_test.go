//go:build e2e

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/status"
)

// containerd2Version is the containerd 2 that scripts/e2e/build-containerd2.sh
// builds (CONTAINERD2_VERSION in lib.sh) and artifacts.sh publishes in
// manifest-containerd2.json.
const containerd2Version = "2.4.2"

// withEnv runs args in the host with envs (NAME=value) in its environment.
// They travel on stdin, not argv: the manifest URL's query string is a
// secret, and --set refuses it for that reason.
func withEnv(ctx context.Context, h *Host, envs []string, args ...string) (Result, error) {
	script := `while IFS= read -r kv; do [ -z "$kv" ] || export "$kv"; done; exec "$@"`
	return h.Exec(ctx, strings.NewReader(strings.Join(envs, "\n")+"\n"), append([]string{"sh", "-c", script, "sh"}, args...)...)
}

// installWith is mustInstall with envs in install's environment.
func installWith(t *testing.T, h *Host, envs []string, bin string, args ...string) phase.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := withEnv(ctx, h, envs, append([]string{bin, "install", "-o", "json", "--no-progress"}, args...)...)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, res.Stderr)
	}
	var r phase.Result
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
		t.Fatalf("install (exit %d) printed no result: %v\nstdout:\n%s\nstderr:\n%s", res.ExitCode, err, res.Stdout, res.Stderr)
	}
	if res.ExitCode != 0 {
		t.Fatalf("install exited %d:\n%s", res.ExitCode, res.Stderr)
	}
	return r
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// containerdStarts counts containerd's start-up lines in the host's journal
// after cursor, and returns them.
func containerdStarts(t *testing.T, h *Host, cursor string) []string {
	t.Helper()
	out := h.Run(t, 30*time.Second, "journalctl", "--no-pager", "-q", "-o", "cat", "-u", "containerd.service", "--after-cursor", cursor)
	var starts []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, `msg="starting containerd"`) {
			starts = append(starts, l)
		}
	}
	return starts
}

func journalCursor(t *testing.T, h *Host) string {
	t.Helper()
	out := h.Run(t, 30*time.Second, "journalctl", "-q", "-n", "0", "--show-cursor")
	c := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "-- cursor:"))
	if c == "" {
		t.Fatalf("journalctl printed no cursor: %q", out)
	}
	return c
}

// TestInstallUpgradesTheRuntimeInPlace: a host joined with containerd 1.6
// (Debian's) is installed again with nodePool.runtime.version 2.4.2 and a
// manifest listing containerd 2.4.2: the binaries are replaced, config.toml
// becomes version 3, containerd starts once with the new binary while the
// kubelet keeps running, and the same Node (name, UID, labels) is Ready on
// containerd 2; status is healthy with that configuration, and a third
// install changes nothing.
func TestInstallUpgradesTheRuntimeInPlace(t *testing.T) {
	urlFile := filepath.Join(env.Var(t, "E2E_STATE"), "manifest-url-containerd2")
	url, err := os.ReadFile(urlFile)
	if err != nil {
		t.Fatalf("no containerd 2 manifest: %v (scripts/e2e/build-containerd2.sh, then scripts/e2e/artifacts.sh publish)", err)
	}
	newBin := filepath.Join(env.Var(t, "E2E_CACHE"), "containerd-v"+containerd2Version, "bin", "containerd")
	wantSHA := fileSHA256(t, newBin)

	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t))
	mustInstall(t, h, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := env.WaitNodeReady(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	before := getNode(t, h.Name)
	if rt := before.Status.NodeInfo.ContainerRuntimeVersion; !strings.HasPrefix(rt, "containerd://1.") {
		t.Fatalf("Node runtime %q before the upgrade, want containerd://1.x", rt)
	}
	oldSHA := strings.Fields(h.Run(t, 30*time.Second, "sha256sum", "/usr/local/bin/containerd"))[0]
	if oldSHA == wantSHA {
		t.Fatal("containerd 1.x and 2.x binaries are the same file")
	}
	kubeletBefore := unitStamp(t, h, "kubelet")
	containerdBefore := unitStamp(t, h, "containerd")
	cursor := journalCursor(t, h)

	envs := []string{
		"ADD2TKE_ARTIFACTS_MANIFESTURL=" + strings.TrimSpace(string(url)),
		"ADD2TKE_NODEPOOL_RUNTIME_VERSION=" + containerd2Version,
	}
	start := time.Now()
	r := installWith(t, h, envs, bin)
	took := time.Since(start)
	t.Logf("upgrade install took %s (phases %+v)", took.Round(time.Millisecond), r.Phases)
	if !r.Changed {
		t.Error("the upgrade install reports changed=false")
	}
	if _, err := env.WaitNodeReady(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	t.Logf("upgrade install start to Node Ready: %s", time.Since(start).Round(time.Millisecond))

	for _, p := range []string{"/usr/local/bin/containerd", "/usr/local/bin/containerd-shim-runc-v2", "/usr/local/bin/ctr"} {
		got := strings.Fields(h.Run(t, 30*time.Second, "sha256sum", p))[0]
		want := fileSHA256(t, filepath.Join(filepath.Dir(newBin), filepath.Base(p)))
		if got != want {
			t.Errorf("%s sha256 %s, want containerd %s's %s", p, got, containerd2Version, want)
		}
	}
	cfg := h.Run(t, 30*time.Second, "cat", "/etc/containerd/config.toml")
	if !strings.Contains(cfg, "\nversion = 3\n") {
		t.Errorf("config.toml is not version 3:\n%s", cfg)
	}
	starts := containerdStarts(t, h, cursor)
	t.Logf("containerd starts during the upgrade: %d", len(starts))
	if len(starts) != 1 {
		t.Errorf("containerd started %d times during the upgrade, want once:\n%s", len(starts), strings.Join(starts, "\n"))
	} else if !strings.Contains(starts[0], "version=v"+containerd2Version) {
		t.Errorf("containerd started is not %s: %s", containerd2Version, starts[0])
	}
	if after := unitStamp(t, h, "containerd"); after == containerdBefore {
		t.Errorf("containerd.service was not restarted: %s", after)
	}
	if after := unitStamp(t, h, "kubelet"); after != kubeletBefore {
		t.Errorf("the upgrade restarted the kubelet, whose files did not change:\nbefore %s\nafter  %s", kubeletBefore, after)
	}
	ver := h.Run(t, 30*time.Second, "ctr", "version")
	if strings.Count(ver, "Version:  v"+containerd2Version) != 2 {
		t.Errorf("ctr version does not show client and server %s:\n%s", containerd2Version, ver)
	}

	// The same Node object, with the same labels, on containerd 2.
	// The CRI reports the version without its "v"; the kubelet picks it up
	// at its next node status update.
	wantRuntime := "containerd://" + containerd2Version
	after := getNode(t, h.Name)
	nctx, ncancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer ncancel()
	err = poll(nctx, func(context.Context) (bool, error) {
		after = getNode(t, h.Name)
		return after.Status.NodeInfo.ContainerRuntimeVersion == wantRuntime, nil
	})
	if err != nil {
		t.Errorf("Node runtime %q, want %s", after.Status.NodeInfo.ContainerRuntimeVersion, wantRuntime)
	}
	if after, err = env.WaitNodeReady(nctx, h.Name); err != nil {
		t.Fatalf("Node on containerd %s: %v", containerd2Version, err)
	}
	t.Logf("upgrade install start to a Ready Node reporting %s: %s", wantRuntime, time.Since(start).Round(time.Millisecond))
	if after.UID != before.UID {
		t.Errorf("Node %s was recreated: UID %s, was %s", h.Name, after.UID, before.UID)
	}
	if d := cmp.Diff(before.Labels, after.Labels); d != "" {
		t.Errorf("Node labels changed (-before +after):\n%s", d)
	}
	checkPoolNode(t, h, after, false)

	// status with the upgraded configuration: healthy, containerd 2.
	var rep status.Report
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	defer scancel()
	err = poll(sctx, func(ctx context.Context) (bool, error) {
		res, err := withEnv(ctx, h, envs, bin, "status", "-o", "json")
		if err != nil {
			return false, err
		}
		rep = status.Report{}
		if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
			t.Fatalf("status -o json (exit %d) printed no report: %v\n%s", res.ExitCode, err, res.Stderr)
		}
		return res.ExitCode == 0, nil
	})
	if err != nil || !rep.Healthy || rep.Install.State != status.InstallComplete {
		t.Errorf("status after the upgrade (%v): healthy %v, install %+v, problems %q", err, rep.Healthy, rep.Install, rep.Problems)
	}
	if rep.Runtime.Kind != "containerd" || !rep.Runtime.Healthy || !strings.Contains(rep.Runtime.Version, containerd2Version) {
		t.Errorf("status runtime = %+v, want healthy containerd %s", rep.Runtime, containerd2Version)
	}

	// A third install changes nothing and restarts nothing.
	stamps := unitStamp(t, h, "kubelet", "containerd")
	start = time.Now()
	r = installWith(t, h, envs, bin)
	t.Logf("third install took %s", time.Since(start).Round(time.Millisecond))
	if r.Changed {
		t.Errorf("third install changed something: %+v", r.Phases)
	}
	for _, p := range r.Phases {
		if p.Status != phase.StatusUnchanged {
			t.Errorf("third install: phase %s is %s, want unchanged", p.Name, p.Status)
		}
	}
	if got := unitStamp(t, h, "kubelet", "containerd"); got != stamps {
		t.Errorf("third install restarted a service:\nbefore %s\nafter  %s", stamps, got)
	}
}
