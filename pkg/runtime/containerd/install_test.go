package containerd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/add2tkectl/add2tkectl/internal/artifacttest"
	"github.com/add2tkectl/add2tkectl/internal/testrec"
	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
)

func artifacts(t *testing.T, tag string) map[string]string {
	dir := t.TempDir()
	return map[string]string{
		ArtifactContainerd: artifacttest.TarGz(t, dir, "containerd.tar.gz", map[string]string{
			"bin/containerd":              "containerd " + tag,
			"bin/containerd-shim-runc-v2": "shim " + tag,
			"bin/ctr":                     "ctr " + tag,
			"bin/containerd-stress":       "not installed",
		}),
		ArtifactRunc:       artifacttest.Binary(t, dir, "runc", tag),
		ArtifactCNIPlugins: artifacttest.TarGz(t, dir, "cni.tgz", map[string]string{"./bridge": "b", "./loopback": "l", "./host-local": "h"}),
	}
}

type fixture struct {
	deps   Deps
	fake   *systemdtest.Fake
	rec    *testrec.Recorder
	logs   *logtest.Hook
	readys int
}

func newFixture(t *testing.T, version, tag string, sysRes bool) *fixture {
	root := t.TempDir()
	log, hook := logtest.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	cfg := &config.NodePoolJoin{NodePool: config.NodePool{Runtime: config.Runtime{Kind: "containerd", Version: version, DataDir: "/data/containerd"}}}
	f := &fixture{fake: systemdtest.NewFake(root), rec: testrec.New(), logs: hook}
	f.deps = Deps{
		Deps:           component.Deps{Root: host.Root{Dir: root}, Systemd: f.fake, Log: log, Recorder: f.rec, Config: cfg, Artifacts: artifacts(t, tag)},
		CapSysResource: func() (bool, error) { return sysRes, nil },
		// The real check (WaitReady against a containerd) runs in e2e and
		// in TestWaitReadyAgainstRealContainerd.
		Ready: func(context.Context) error { f.readys++; return nil },
	}
	return f
}

func TestInstallThenNothingToDo(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "1.7.22", "v1", false)
	if ok, err := Satisfied(ctx, f.deps); err != nil || ok {
		t.Fatalf("Satisfied on a bare host = %v, %v", ok, err)
	}
	changed, err := Install(ctx, f.deps)
	if err != nil || !changed {
		t.Fatalf("first Install = %v, %v", changed, err)
	}
	root := f.deps.Root
	for p, mode := range map[string]os.FileMode{
		"/usr/local/bin/containerd": 0o755, "/usr/local/bin/containerd-shim-runc-v2": 0o755, "/usr/local/bin/ctr": 0o755,
		RuncPath: 0o755, "/opt/cni/bin/bridge": 0o755, "/opt/cni/bin/loopback": 0o755, "/opt/cni/bin/host-local": 0o755,
		ConfigPath: 0o644, "/etc/systemd/system/containerd.service": 0o644,
	} {
		st, err := os.Stat(root.Path(p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), mode)
		}
		if _, ok := f.rec.Files[p]; !ok {
			t.Errorf("%s written but not in the journal", p)
		}
	}
	if _, err := os.Stat(root.Path("/usr/local/bin/containerd-stress")); err == nil {
		t.Error("containerd-stress installed; only the listed binaries should be")
	}
	for _, d := range []string{"/data/containerd", CNIConfDir, CNIBinDir, "/etc/containerd"} {
		if st, err := os.Stat(root.Path(d)); err != nil || !st.IsDir() {
			t.Errorf("dir %s missing", d)
		}
	}
	if !reflect.DeepEqual(f.rec.Units, []string{UnitName}) {
		t.Errorf("units recorded %v", f.rec.Units)
	}
	if got := f.fake.Calls(); !reflect.DeepEqual(got, []string{"daemon-reload", "enable containerd.service", "start containerd.service"}) {
		t.Errorf("systemd calls %v", got)
	}
	if f.readys != 1 {
		t.Errorf("health waited %d times", f.readys)
	}
	cfg, _ := os.ReadFile(root.Path(ConfigPath))
	if !contains(cfg, "restrict_oom_score_adj = true") {
		t.Error("without CAP_SYS_RESOURCE the config must restrict oom_score_adj")
	}
	warned := false
	for _, e := range f.logs.AllEntries() {
		warned = warned || e.Level == logrus.WarnLevel
	}
	if !warned {
		t.Error("no warning about CAP_SYS_RESOURCE")
	}

	if ok, err := Satisfied(ctx, f.deps); err != nil || !ok {
		t.Fatalf("Satisfied after Install = %v, %v", ok, err)
	}
	f.fake.ResetCalls()
	before := mtimes(t, root)
	changed, err = Install(ctx, f.deps)
	if err != nil || changed {
		t.Fatalf("second Install = %v, %v; want no change", changed, err)
	}
	if calls := f.fake.Calls(); len(calls) != 0 {
		t.Errorf("second Install called systemd: %v", calls)
	}
	if after := mtimes(t, root); !reflect.DeepEqual(before, after) {
		t.Error("second Install rewrote files")
	}
}

func TestInstallRestartsOnlyWhenSomethingChanged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "1.7.22", "v1", true)
	if _, err := Install(ctx, f.deps); err != nil {
		t.Fatal(err)
	}

	// Upgrade in place: a new containerd artifact.
	f.fake.ResetCalls()
	f.deps.Artifacts = artifacts(t, "v2")
	if ok, _ := Satisfied(ctx, f.deps); ok {
		t.Fatal("Satisfied with a new containerd artifact")
	}
	if changed, err := Install(ctx, f.deps); err != nil || !changed {
		t.Fatalf("upgrade Install = %v, %v", changed, err)
	}
	if got := f.fake.Calls(); !reflect.DeepEqual(got, []string{"restart containerd.service"}) {
		t.Errorf("upgrade: systemd calls %v, want one restart", got)
	}
	b, _ := os.ReadFile(f.deps.Root.Path("/usr/local/bin/containerd"))
	if string(b) != "containerd v2" {
		t.Errorf("containerd binary after upgrade = %q", b)
	}

	// A changed data dir changes config.toml only.
	f.fake.ResetCalls()
	f.deps.Config.NodePool.Runtime.DataDir = "/data2/containerd"
	if changed, err := Install(ctx, f.deps); err != nil || !changed {
		t.Fatalf("Install with a new data dir = %v, %v", changed, err)
	}
	if got := f.fake.Calls(); !reflect.DeepEqual(got, []string{"restart containerd.service"}) {
		t.Errorf("config change: systemd calls %v, want one restart", got)
	}

	// Someone edits an installed binary: Satisfied notices, Install repairs.
	p := f.deps.Root.Path("/usr/local/bin/ctr")
	if err := os.WriteFile(p, []byte("tampered"), 0o755); err != nil {
		t.Fatal(err)
	}
	if ok, _ := Satisfied(ctx, f.deps); ok {
		t.Error("Satisfied with a modified ctr")
	}
	if _, err := Install(ctx, f.deps); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "ctr v2" {
		t.Errorf("ctr after repair = %q", b)
	}
	if ok, err := Satisfied(ctx, f.deps); err != nil || !ok {
		t.Errorf("Satisfied after repair = %v, %v", ok, err)
	}
}

func TestInstallVersion2RendersConfigV3(t *testing.T) {
	f := newFixture(t, "2.1.4", "v1", true)
	if _, err := Install(context.Background(), f.deps); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.deps.Root.Path(ConfigPath))
	if !contains(b, "version = 3") || !contains(b, "bin_dirs") {
		t.Errorf("config for containerd 2.1:\n%s", b)
	}
	unit, _ := os.ReadFile(f.deps.Root.Path(systemd.UnitPath(UnitName)))
	if !contains(unit, "LimitNOFILE=1048576") {
		t.Error("with CAP_SYS_RESOURCE the unit raises LimitNOFILE")
	}
}

func TestInstallFailsWhenTheServiceFails(t *testing.T) {
	f := newFixture(t, "1.7.22", "v1", true)
	f.fake.FailStart = map[string]string{UnitName: "failed"}
	_, err := Install(context.Background(), f.deps)
	var je *systemd.JobError
	if err == nil || !errors.As(err, &je) {
		t.Fatalf("err = %v, want a systemd job error", err)
	}
}

func TestInstallNamesAMissingArtifact(t *testing.T) {
	f := newFixture(t, "1.7.22", "v1", true)
	delete(f.deps.Artifacts, ArtifactRunc)
	_, err := Install(context.Background(), f.deps)
	if err == nil || !contains([]byte(err.Error()), `"runc" artifact`) {
		t.Fatalf("err = %v", err)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

func mtimes(t *testing.T, root host.Root) map[string]int64 {
	out := map[string]int64{}
	err := filepath.Walk(root.Path("/"), func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			out[p] = info.ModTime().UnixNano()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
