package systemdtest

import (
	"context"
	"os"
	"path/filepath"
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
