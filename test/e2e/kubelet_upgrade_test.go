//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/status"
)

// upgradeSlice is the kubelet upgrade `make check` runs: from the minor
// below the environment's v1.35.4, whose kubelet it builds (541 s on 2
// loaded cores the first time, cached after). `make compat` adds docker's move from
// dockershim to cri-dockerd ($E2E_COMPAT_UPGRADES).
const upgradeSlice = "v1.34.5>v1.35.4/containerd"

// kubeletSet builds the kubelet of version (scripts/e2e/build-kubelet.sh,
// cached in $E2E_CACHE) and publishes the environment's set with it in place
// of v1.35.4's and without kubectl; it returns that manifest's presigned URL.
// A version that does not build here fails the test with the build's error.
func kubeletSet(t *testing.T, version string) string {
	t.Helper()
	start := time.Now()
	var out bytes.Buffer
	build := exec.Command(filepath.Join(env.Root, "scripts/e2e/build-kubelet.sh"), version)
	build.Stdout, build.Stderr = &out, &out
	if err := build.Run(); err != nil {
		t.Fatalf("the kubelet %s does not build here: %v\n%s(whole log: %s)", version, err, out.String(),
			filepath.Join(env.Var(t, "E2E_CACHE"), "kubelet-"+version, "build.log"))
	}
	t.Logf("kubelet %s: %s (%s)", version, strings.TrimSpace(out.String()), time.Since(start).Round(time.Millisecond))
	out.Reset()
	if err := script(env.Root, &out, "artifacts.sh", "publish-kubelet", version); err != nil {
		t.Fatalf("artifacts.sh publish-kubelet %s: %v\n%s", version, err, out.String())
	}
	url, err := os.ReadFile(filepath.Join(env.Var(t, "E2E_STATE"), "manifest-url-kubelet-"+version))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(url))
}

// kubeletSetEnv is install's environment for the pool at version with that
// version's set.
func kubeletSetEnv(t *testing.T, version string) []string {
	return []string{
		"ADD2TKE_CLUSTER_KUBERNETESVERSION=" + strings.TrimPrefix(version, "v"),
		"ADD2TKE_ARTIFACTS_MANIFESTURL=" + kubeletSet(t, version),
	}
}

// podContainers is every container the runtime runs for pods on the host.
func podContainers(t *testing.T, h *Host, runtime string) []string {
	t.Helper()
	var ids []string
	if runtime == "docker" {
		ids = strings.Fields(h.Run(t, 30*time.Second, "docker", "ps", "-q", "--no-trunc", "--filter", "name=k8s_"))
	} else {
		ids = strings.Fields(h.Run(t, 30*time.Second, "ctr", "-n", "k8s.io", "containers", "ls", "-q"))
	}
	sort.Strings(ids)
	return ids
}

// TestInstallUpgradesTheKubeletOneMinorInPlace runs each upgrade of
// $E2E_COMPAT_UPGRADES (FROM>TO/RUNTIME, space-separated; upgradeSlice when
// unset), then the refusals on the last host.
func TestInstallUpgradesTheKubeletOneMinorInPlace(t *testing.T) {
	ups := strings.Fields(os.Getenv("E2E_COMPAT_UPGRADES"))
	if len(ups) == 0 {
		ups = []string{upgradeSlice}
	}
	for _, u := range ups {
		from, rest, ok1 := strings.Cut(u, ">")
		to, runtime, ok2 := strings.Cut(rest, "/")
		if !ok1 || !ok2 {
			t.Fatalf("E2E_COMPAT_UPGRADES %q: want FROM>TO/RUNTIME, e.g. v1.34.5>v1.35.4/containerd", u)
		}
		t.Run(strings.NewReplacer(">", "-to-", "/", "-").Replace(u), func(t *testing.T) {
			start := time.Now()
			defer func() {
				if f := os.Getenv("E2E_COMPAT_RESULTS"); f != "" {
					appendJSONLine(t, f, map[string]any{"upgrade": u, "from": from, "to": to, "runtime": runtime, "failed": t.Failed(), "seconds": time.Since(start).Seconds()})
				}
			}()
			upgradeKubelet(t, from, to, runtime)
		})
	}
}

// setEnv is install's environment for the pool at version: that version's
// set, or none for the environment's own.
func setEnv(t *testing.T, version string) []string {
	if version == environmentKubelet {
		return nil
	}
	return kubeletSetEnv(t, version)
}

// upgradeKubelet: a host joined at from is installed again with the pool at
// to: the kubelet binary and configuration are replaced and the kubelet
// restarts, the runtime's daemon and the pods' containers untouched; the
// same Node turns Ready on to, status finds no drift, and a re-run changes
// nothing. Then a move down, and one of two minors up, are refused with exit
// 2 before anything changes.
func upgradeKubelet(t *testing.T, from, to, runtime string) {
	oldEnvs, newEnvs := setEnv(t, from), setEnv(t, to)
	fromMinor, minor := minorOf(t, from), minorOf(t, to)
	// docker across 1.24 gains cri-dockerd in the runtime phase; nothing
	// else of the runtime is the kubelet upgrade's to touch.
	gainsCRIDockerd := runtime == "docker" && fromMinor < config.FirstMinorWithoutDockershim && minor >= config.FirstMinorWithoutDockershim
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t, "E2E_POOL_USER_SCRIPT=echo joined", "E2E_POOL_CORDON=false", "E2E_POOL_RUNTIME="+runtime))
	installWith(t, h, oldEnvs, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := env.WaitNodeReady(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	before := getNode(t, h.Name)
	if v := before.Status.NodeInfo.KubeletVersion; v != from {
		t.Fatalf("Node kubelet %s before the upgrade, want %s", v, from)
	}
	containers := podContainers(t, h, runtime)
	if len(containers) == 0 {
		t.Fatal("no pod container runs on the node before the upgrade (the e2e-cni pod should)")
	}
	configBefore := h.Run(t, 30*time.Second, "cat", "/var/lib/kubelet/config.yaml")
	kubeletBefore, runtimeBefore := unitStamp(t, h, "kubelet"), unitStamp(t, h, runtime)

	start := time.Now()
	r := installWith(t, h, newEnvs, bin)
	t.Logf("upgrade install took %s (phases %+v)", time.Since(start).Round(time.Millisecond), r.Phases)
	if !r.Changed {
		t.Error("the upgrade install reports changed=false")
	}
	for _, p := range r.Phases {
		if (p.Name == "images" || p.Name == "runtime" && !gainsCRIDockerd) && p.Status != phase.StatusUnchanged {
			t.Errorf("upgrade install: phase %s is %s, want unchanged (the runtime is not the kubelet's to touch)", p.Name, p.Status)
		}
	}
	after := getNode(t, h.Name)
	err := poll(ctx, func(context.Context) (bool, error) {
		after = getNode(t, h.Name)
		return after.Status.NodeInfo.KubeletVersion == to, nil
	})
	if err != nil {
		t.Fatalf("Node kubelet %s, want %s", after.Status.NodeInfo.KubeletVersion, to)
	}
	if after, err = env.WaitNodeReady(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	t.Logf("upgrade install start to a Ready Node on %s: %s", to, time.Since(start).Round(time.Millisecond))
	if after.UID != before.UID {
		t.Errorf("Node %s was recreated: UID %s, was %s", h.Name, after.UID, before.UID)
	}
	if d := cmp.Diff(before.Labels, after.Labels); d != "" {
		t.Errorf("Node labels changed (-before +after):\n%s", d)
	}
	checkPoolNode(t, h, after, false)

	newBin := filepath.Join(env.Var(t, "E2E_CACHE"), "kubelet-"+to, "bin", "kubelet")
	if to == environmentKubelet {
		newBin = filepath.Join(env.Var(t, "E2E_CACHE"), "k8s-"+to, "bin", "kubelet")
	}
	want := fileSHA256(t, newBin)
	if got := strings.Fields(h.Run(t, 30*time.Second, "sha256sum", "/usr/local/bin/kubelet"))[0]; got != want {
		t.Errorf("/usr/local/bin/kubelet sha256 %s, want %s's %s", got, to, want)
	}
	if cfg := h.Run(t, 30*time.Second, "cat", "/var/lib/kubelet/config.yaml"); cfg == configBefore {
		t.Logf("the kubelet configuration of %s and %s is the same file", from, to)
	}
	if got := unitStamp(t, h, "kubelet"); got == kubeletBefore {
		t.Errorf("the kubelet was not restarted: %s", got)
	}
	if got := unitStamp(t, h, runtime); got != runtimeBefore {
		t.Errorf("the kubelet upgrade restarted %s:\nbefore %s\nafter  %s", runtime, runtimeBefore, got)
	}
	if got := podContainers(t, h, runtime); !cmp.Equal(got, containers) {
		t.Errorf("the pods' containers changed over the kubelet upgrade:\nbefore %v\nafter  %v", containers, got)
	}

	// status with the new configuration: healthy, no drift.
	var rep status.Report
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	defer scancel()
	err = poll(sctx, func(ctx context.Context) (bool, error) {
		res, err := withEnv(ctx, h, newEnvs, bin, "status", "-o", "json")
		if err != nil {
			return false, err
		}
		rep = status.Report{}
		if err := json.Unmarshal([]byte(res.Stdout), &rep); err != nil {
			t.Fatalf("status -o json (exit %d) printed no report: %v\n%s", res.ExitCode, err, res.Stderr)
		}
		return res.ExitCode == 0 && rep.Drift.Empty(), nil
	})
	if err != nil || !rep.Healthy || !rep.Drift.Empty() {
		t.Errorf("status after the upgrade (%v): healthy %v, drift %+v, problems %q", err, rep.Healthy, rep.Drift, rep.Problems)
	}

	// A re-run changes nothing and restarts nothing.
	stamps := unitStamp(t, h, "kubelet", runtime)
	r = installWith(t, h, newEnvs, bin)
	if r.Changed {
		t.Errorf("the install after the upgrade changed something: %+v", r.Phases)
	}
	if got := unitStamp(t, h, "kubelet", runtime); got != stamps {
		t.Errorf("the install after the upgrade restarted a service:\nbefore %s\nafter  %s", stamps, got)
	}

	// A move down, and one of two minors up: exit 2, nothing changed.
	journal := h.Run(t, 30*time.Second, "sha256sum", "/var/lib/add2tkectl/state.json", "/usr/local/bin/kubelet", "/var/lib/kubelet/config.yaml")
	for _, c := range []struct{ version, says string }{
		{strings.TrimPrefix(from, "v"), "never downgraded in place"},
		{fmt.Sprintf("1.%d.0", minor+2), fmt.Sprintf("install with the bundle of 1.%d first", minor+1)},
	} {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := withEnv(cctx, h, []string{"ADD2TKE_CLUSTER_KUBERNETESVERSION=" + c.version}, bin, "install", "--no-progress")
		ccancel()
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 2 || !strings.Contains(res.Stderr, c.says) {
			t.Errorf("install at %s after %s: exit %d, want 2 saying %q:\n%s", c.version, to, res.ExitCode, c.says, res.Stderr)
		}
		t.Logf("install at %s after %s: exit %d: %s", c.version, to, res.ExitCode, strings.TrimSpace(res.Stderr))
	}
	if got := h.Run(t, 30*time.Second, "sha256sum", "/var/lib/add2tkectl/state.json", "/usr/local/bin/kubelet", "/var/lib/kubelet/config.yaml"); got != journal {
		t.Errorf("a refused install changed the host:\nbefore %s\nafter  %s", journal, got)
	}
	if got := unitStamp(t, h, "kubelet", runtime); got != stamps {
		t.Errorf("a refused install restarted a service:\nbefore %s\nafter  %s", stamps, got)
	}
}
