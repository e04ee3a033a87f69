//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/status"
)

// upgradeFromKubelet is the minor below the environment's v1.35.4 that the
// kubelet upgrade starts from; `make check` builds its kubelet (about 4 min
// on a new machine, cached after).
const upgradeFromKubelet = "v1.34.5"

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

// podContainers is every container the CRI runs for pods on the host.
func podContainers(t *testing.T, h *Host) []string {
	t.Helper()
	ids := strings.Fields(h.Run(t, 30*time.Second, "ctr", "-n", "k8s.io", "containers", "ls", "-q"))
	sort.Strings(ids)
	return ids
}

// TestInstallUpgradesTheKubeletOneMinorInPlace: a host joined at 1.34 is
// installed again with the pool at 1.35 (the environment's bundle): the
// kubelet binary and configuration are replaced and the kubelet alone
// restarts, containerd and the pods' containers untouched; the same Node
// turns Ready on v1.35.4, status finds no drift, and a re-run changes
// nothing. Then a move down, and one of two minors up, are refused with exit
// 2 before anything changes.
func TestInstallUpgradesTheKubeletOneMinorInPlace(t *testing.T) {
	oldEnvs := kubeletSetEnv(t, upgradeFromKubelet)
	h := env.FreshHost(t, "host1")
	bin := h.InstallBundle(t, env.Bundle(t, "E2E_POOL_USER_SCRIPT=echo joined", "E2E_POOL_CORDON=false"))
	installWith(t, h, oldEnvs, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := env.WaitNodeReady(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	before := getNode(t, h.Name)
	if v := before.Status.NodeInfo.KubeletVersion; v != upgradeFromKubelet {
		t.Fatalf("Node kubelet %s before the upgrade, want %s", v, upgradeFromKubelet)
	}
	containers := podContainers(t, h)
	if len(containers) == 0 {
		t.Fatal("no pod container runs on the node before the upgrade (the e2e-cni pod should)")
	}
	configBefore := h.Run(t, 30*time.Second, "cat", "/var/lib/kubelet/config.yaml")
	kubeletBefore, containerdBefore := unitStamp(t, h, "kubelet"), unitStamp(t, h, "containerd")

	start := time.Now()
	r := mustInstall(t, h, bin)
	t.Logf("upgrade install took %s (phases %+v)", time.Since(start).Round(time.Millisecond), r.Phases)
	if !r.Changed {
		t.Error("the upgrade install reports changed=false")
	}
	for _, p := range r.Phases {
		if (p.Name == "runtime" || p.Name == "images") && p.Status != phase.StatusUnchanged {
			t.Errorf("upgrade install: phase %s is %s, want unchanged (the runtime is not the kubelet's to touch)", p.Name, p.Status)
		}
	}
	after := getNode(t, h.Name)
	err := poll(ctx, func(context.Context) (bool, error) {
		after = getNode(t, h.Name)
		return after.Status.NodeInfo.KubeletVersion == "v1.35.4", nil
	})
	if err != nil {
		t.Fatalf("Node kubelet %s, want v1.35.4", after.Status.NodeInfo.KubeletVersion)
	}
	if after, err = env.WaitNodeReady(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	t.Logf("upgrade install start to a Ready Node on v1.35.4: %s", time.Since(start).Round(time.Millisecond))
	if after.UID != before.UID {
		t.Errorf("Node %s was recreated: UID %s, was %s", h.Name, after.UID, before.UID)
	}
	if d := cmp.Diff(before.Labels, after.Labels); d != "" {
		t.Errorf("Node labels changed (-before +after):\n%s", d)
	}
	checkPoolNode(t, h, after, false)

	want := fileSHA256(t, filepath.Join(env.Var(t, "E2E_CACHE"), "k8s-v1.35.4", "bin", "kubelet"))
	if got := strings.Fields(h.Run(t, 30*time.Second, "sha256sum", "/usr/local/bin/kubelet"))[0]; got != want {
		t.Errorf("/usr/local/bin/kubelet sha256 %s, want v1.35.4's %s", got, want)
	}
	if cfg := h.Run(t, 30*time.Second, "cat", "/var/lib/kubelet/config.yaml"); cfg == configBefore {
		t.Log("the kubelet configuration of 1.34 and 1.35 is the same file")
	}
	if got := unitStamp(t, h, "kubelet"); got == kubeletBefore {
		t.Errorf("the kubelet was not restarted: %s", got)
	}
	if got := unitStamp(t, h, "containerd"); got != containerdBefore {
		t.Errorf("the kubelet upgrade restarted containerd:\nbefore %s\nafter  %s", containerdBefore, got)
	}
	if got := podContainers(t, h); !cmp.Equal(got, containers) {
		t.Errorf("the pods' containers changed over the kubelet upgrade:\nbefore %v\nafter  %v", containers, got)
	}

	// status with the new configuration: healthy, no drift.
	var rep status.Report
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	defer scancel()
	err = poll(sctx, func(ctx context.Context) (bool, error) {
		res, err := h.Exec(ctx, nil, bin, "status", "-o", "json")
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
	stamps := unitStamp(t, h, "kubelet", "containerd")
	r = mustInstall(t, h, bin)
	if r.Changed {
		t.Errorf("the install after the upgrade changed something: %+v", r.Phases)
	}
	if got := unitStamp(t, h, "kubelet", "containerd"); got != stamps {
		t.Errorf("the install after the upgrade restarted a service:\nbefore %s\nafter  %s", stamps, got)
	}

	// A move down, and one of two minors up: exit 2, nothing changed.
	journal := h.Run(t, 30*time.Second, "sha256sum", "/var/lib/add2tkectl/state.json", "/usr/local/bin/kubelet", "/var/lib/kubelet/config.yaml")
	for _, c := range []struct{ version, says string }{
		{"1.34.5", "never downgraded in place"},
		{"1.37.2", "install with the bundle of 1.36 first"},
	} {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
		res, err := withEnv(cctx, h, []string{"ADD2TKE_CLUSTER_KUBERNETESVERSION=" + c.version}, bin, "install", "--no-progress")
		ccancel()
		if err != nil {
			t.Fatal(err)
		}
		if res.ExitCode != 2 || !strings.Contains(res.Stderr, c.says) {
			t.Errorf("install at %s after v1.35.4: exit %d, want 2 saying %q:\n%s", c.version, res.ExitCode, c.says, res.Stderr)
		}
		t.Logf("install at %s: exit %d: %s", c.version, res.ExitCode, strings.TrimSpace(res.Stderr))
	}
	if got := h.Run(t, 30*time.Second, "sha256sum", "/var/lib/add2tkectl/state.json", "/usr/local/bin/kubelet", "/var/lib/kubelet/config.yaml"); got != journal {
		t.Errorf("a refused install changed the host:\nbefore %s\nafter  %s", journal, got)
	}
	if got := unitStamp(t, h, "kubelet", "containerd"); got != stamps {
		t.Errorf("a refused install restarted a service:\nbefore %s\nafter  %s", stamps, got)
	}
}
