package systemdtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

func TestFakeLoadsOnlyUnitsOnDisk(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	f := NewFake(root)
	if err := f.Start(ctx, "a.service"); err == nil {
		t.Fatal("started a unit with no file")
	}
	p := filepath.Join(root, systemd.UnitPath("a.service"))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("[Service]\nExecStart=/bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.DaemonReload(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.Enable(ctx, "a.service"); err != nil {
		t.Fatal(err)
	}
	if err := f.Start(ctx, "a.service"); err != nil {
		t.Fatal(err)
	}
	st, _ := f.Status(ctx, "a.service")
	if !st.Active() || !st.Enabled() || st.ActiveSince.IsZero() {
		t.Errorf("status after enable+start = %+v", st)
	}
	f.FailStart = map[string]string{"a.service": "failed"}
	if err := f.Restart(ctx, "a.service"); err == nil {
		t.Error("restart with FailStart succeeded")
	}
	if active, _ := systemd.IsActive(ctx, f, "a.service"); active {
		t.Error("unit active after a failed restart")
	}
}

func TestFakeListsKillsAndForgetsRemovedUnits(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	f := NewFake(root)
	p := filepath.Join(root, systemd.UnitPath("containerd.service"))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("[Service]\nExecStart=/bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.DaemonReload(ctx); err != nil {
		t.Fatal(err)
	}
	f.AddTransient("kubepods.slice")
	f.AddTransient("kubepods-besteffort.slice")
	f.AddTransient("cri-containerd-abc.scope")
	got, err := f.ListUnits(ctx, "kubepods*.slice", "cri-containerd-*.scope")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range got {
		names = append(names, u.Name)
	}
	if want := "cri-containerd-abc.scope kubepods-besteffort.slice kubepods.slice"; strings.Join(names, " ") != want {
		t.Fatalf("ListUnits = %v, want %s", names, want)
	}
	if err := f.Kill(ctx, "containerd.service", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if f.Count("kill 9 containerd.service") != 1 {
		t.Fatalf("calls = %v", f.Calls())
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := f.DaemonReload(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.Status(ctx, "containerd.service"); st.LoadState != "not-found" {
		t.Errorf("unit with its file removed: LoadState %q, want not-found", st.LoadState)
	}
	if st, _ := f.Status(ctx, "kubepods.slice"); st.LoadState != "loaded" {
		t.Errorf("transient unit forgotten by daemon-reload: %+v", st)
	}
}
