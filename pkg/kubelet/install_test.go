package kubelet

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/add2tkectl/add2tkectl/internal/artifacttest"
	"github.com/add2tkectl/add2tkectl/internal/testrec"
	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
)

const fakeToken = "abcdef.0123456789abcdef" // FAKE

func newDeps(t *testing.T, version string) (Deps, *systemdtest.Fake, *testrec.Recorder, *logtest.Hook) {
	root := t.TempDir()
	log, hook := logtest.NewNullLogger()
	cfg := &config.NodePoolJoin{
		Cluster: config.Cluster{ID: "cls-m57oxxxp", KubernetesVersion: version, BootstrapToken: fakeToken,
			APIServer: config.APIServer{Endpoint: "https://10.0.0.5:443", CAData: fakeCA}},
		NodePool: config.NodePool{ID: "np-3kd9a1bc", Runtime: config.Runtime{Kind: "containerd", Version: "1.7.22", DataDir: "/var/lib/containerd"},
			Labels: map[string]string{config.LabelLocation: "idc-sh-01"},
			Taints: []config.Taint{{Key: "key1", Value: "value1", Effect: "PreferNoSchedule"}}},
	}
	fake := systemdtest.NewFake(root)
	rec := testrec.New()
	return Deps{
		Deps:     component.Deps{Root: host.Root{Dir: root}, Systemd: fake, Log: log, Recorder: rec, Config: cfg, Artifacts: map[string]string{Artifact: artifacttest.Binary(t, t.TempDir(), "kubelet", version)}},
		NodeIP:   "10.0.1.17",
		CgroupV1: true,
		Ready:    func(context.Context) error { t.Error("healthz waited before the kubelet has credentials"); return nil },
	}, fake, rec, hook
}

func TestInstallWritesEverythingOnceAndTheTokenOnlyInA0600File(t *testing.T) {
	ctx := context.Background()
	d, fake, rec, hook := newDeps(t, "1.35.4")
	if ok, _ := Satisfied(ctx, d); ok {
		t.Fatal("Satisfied on a bare host")
	}
	changed, err := Install(ctx, d)
	if err != nil || !changed {
		t.Fatalf("Install = %v, %v", changed, err)
	}
	want := map[string]os.FileMode{
		BinaryPath: 0o755, ConfigPath: 0o644, FlagsPath: 0o644, BootstrapKubeconfig: 0o600, CAPath: 0o644,
		systemd.UnitPath(UnitName): 0o644, systemd.DropInPath(UnitName, DropInName): 0o644,
	}
	for p, mode := range want {
		st, err := os.Stat(d.Root.Path(p))
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: %v mode %v, want %v", p, err, st.Mode().Perm(), mode)
		}
		if _, ok := rec.Files[p]; !ok {
			t.Errorf("%s not in the journal", p)
		}
	}
	// The token is in the bootstrap kubeconfig and nowhere else we wrote.
	for p := range rec.Files {
		b, _ := os.ReadFile(d.Root.Path(p))
		if has := strings.Contains(string(b), fakeToken); has != (p == BootstrapKubeconfig) {
			t.Errorf("%s holds the token: %v", p, has)
		}
	}
	for _, e := range hook.AllEntries() {
		if s, _ := e.String(); strings.Contains(s, fakeToken) {
			t.Errorf("token in log: %s", s)
		}
	}
	if got := fake.Calls(); !reflect.DeepEqual(got, []string{"daemon-reload", "enable kubelet.service", "start kubelet.service"}) {
		t.Errorf("systemd calls %v", got)
	}
	warned := false
	for _, e := range hook.AllEntries() {
		warned = warned || (e.Level == logrus.WarnLevel && strings.Contains(e.Message, "failCgroupV1"))
	}
	if !warned {
		t.Error("no warning about failCgroupV1 on a cgroup v1 host")
	}

	if ok, err := Satisfied(ctx, d); err != nil || !ok {
		t.Fatalf("Satisfied after Install = %v, %v", ok, err)
	}
	fake.ResetCalls()
	if changed, err := Install(ctx, d); err != nil || changed {
		t.Fatalf("second Install = %v, %v", changed, err)
	}
	if calls := fake.Calls(); len(calls) != 0 {
		t.Errorf("second Install called systemd: %v", calls)
	}
}

func TestInstallConvergesLabelsAndUpgradesInPlace(t *testing.T) {
	ctx := context.Background()
	d, fake, _, _ := newDeps(t, "1.34.2")
	if _, err := Install(ctx, d); err != nil {
		t.Fatal(err)
	}
	fake.ResetCalls()
	d.Config.NodePool.Labels["pool"] = "b"
	if changed, err := Install(ctx, d); err != nil || !changed {
		t.Fatalf("Install with a new label = %v, %v", changed, err)
	}
	b, _ := os.ReadFile(d.Root.Path(FlagsPath))
	if !strings.Contains(string(b), "pool=b") {
		t.Errorf("flags do not carry the new label: %s", b)
	}
	if got := fake.Calls(); !reflect.DeepEqual(got, []string{"restart kubelet.service"}) {
		t.Errorf("label change: systemd calls %v", got)
	}

	fake.ResetCalls()
	d.Config.Cluster.KubernetesVersion = "1.35.4"
	d.Artifacts = map[string]string{Artifact: artifacttest.Binary(t, t.TempDir(), "kubelet", "1.35.4")}
	if changed, err := Install(ctx, d); err != nil || !changed {
		t.Fatalf("upgrade = %v, %v", changed, err)
	}
	if got := fake.Calls(); !reflect.DeepEqual(got, []string{"restart kubelet.service"}) {
		t.Errorf("upgrade: systemd calls %v", got)
	}
	cfg, _ := os.ReadFile(d.Root.Path(ConfigPath))
	if !strings.Contains(string(cfg), "failCgroupV1: false") {
		t.Error("1.35 on cgroup v1 without failCgroupV1: false")
	}
}

func TestInstallWaitsForHealthOnceBootstrapped(t *testing.T) {
	d, _, _, _ := newDeps(t, "1.30.1")
	if _, err := d.Root.WriteFile(testrec.New(), paths.KubeletKubeconfig, []byte("kubeconfig"), 0o600); err != nil {
		t.Fatal(err)
	}
	waited := 0
	d.Ready = func(context.Context) error { waited++; return nil }
	if _, err := Install(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if waited != 1 {
		t.Errorf("waited for health %d times, want 1", waited)
	}
}

func TestInstallRefusesWithoutCA(t *testing.T) {
	d, _, _, _ := newDeps(t, "1.30.1")
	d.Config.Cluster.APIServer.CAData = ""
	_, err := Install(context.Background(), d)
	if err == nil || !strings.Contains(err.Error(), "caData") {
		t.Fatalf("err = %v", err)
	}
}

// caCertHashes only pin the CA: the kubelet component renders from the CA
// that preflight read from cluster-info and passed on as caData, and
// without it refuses before writing anything.
func TestInstallWithOnlyCACertHashesWritesNothingUntilTheCAIsDiscovered(t *testing.T) {
	d, _, _, _ := newDeps(t, "1.35.4")
	d.Config.Cluster.APIServer.CAData = ""
	d.Config.Cluster.APIServer.CACertHashes = []string{"sha256:" + strings.Repeat("ab", 32)}
	_, err := Install(context.Background(), d)
	if err == nil || !strings.Contains(err.Error(), "cluster-info") || !strings.Contains(err.Error(), "preflight") {
		t.Fatalf("err = %v; want one that names cluster-info and the preflight phase", err)
	}
	if entries, _ := os.ReadDir(d.Root.Dir); len(entries) != 0 {
		t.Errorf("wrote %v before refusing", entries)
	}

	d.Config.Cluster.APIServer.CAData = fakeCA // as preflight leaves it
	if _, err := Install(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	kc, err := os.ReadFile(d.Root.Path(BootstrapKubeconfig))
	if err != nil || !strings.Contains(string(kc), "certificate-authority-data: "+fakeCA) {
		t.Errorf("bootstrap kubeconfig lacks the discovered CA (%v):\n%s", err, kc)
	}
}

func TestWaitHealthyPollsARealServer(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	log, _ := logtest.NewNullLogger()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := WaitHealthy(ctx, srv.URL, log); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 {
		t.Errorf("polled %d times, want 3", calls.Load())
	}

	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "[-]ping failed", http.StatusInternalServerError)
	}))
	defer dead.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	err := WaitHealthy(ctx2, dead.URL, log)
	if err == nil || !strings.Contains(err.Error(), "journalctl -u kubelet.service") || !strings.Contains(err.Error(), "ping failed") {
		t.Fatalf("err = %v, want the last answer and where to look", err)
	}
}

// TestKubectlGoesToTheToolsDirAndRestartsNothing: a manifest with kubectl
// puts it in paths.ToolsDir (never /usr/local/bin, where an operator's own
// kubectl may live), records it, and a new kubectl alone restarts no unit.
func TestKubectlGoesToTheToolsDirAndRestartsNothing(t *testing.T) {
	ctx := context.Background()
	d, fake, rec, _ := newDeps(t, "1.35.4")
	operators := d.Root.Path("/usr/local/bin/kubectl")
	if err := os.MkdirAll(filepath.Dir(operators), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(operators, []byte("the operator's kubectl"), 0o755); err != nil {
		t.Fatal(err)
	}
	d.Artifacts[KubectlArtifact] = artifacttest.Binary(t, t.TempDir(), "kubectl", "1.35.4")
	if _, err := Install(ctx, d); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(d.Root.Path(KubectlPath)); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("%s: %v", KubectlPath, err)
	}
	if _, ok := rec.Files[KubectlPath]; !ok {
		t.Errorf("%s not in the journal", KubectlPath)
	}
	if !slices.Contains(rec.Dirs, paths.ToolsDir) {
		t.Errorf("%s not recorded as created: %v", paths.ToolsDir, rec.Dirs)
	}
	if b, _ := os.ReadFile(operators); string(b) != "the operator's kubectl" {
		t.Errorf("the operator's /usr/local/bin/kubectl was touched: %q", b)
	}
	fake.ResetCalls()
	d.Artifacts[KubectlArtifact] = artifacttest.Binary(t, t.TempDir(), "kubectl-rebuilt", "1.35.4")
	if changed, err := Install(ctx, d); err != nil || !changed {
		t.Fatalf("Install with a new kubectl = %v, %v", changed, err)
	}
	if got := fake.Calls(); len(got) != 0 {
		t.Errorf("a new kubectl: systemd calls %v, want none", got)
	}
}
