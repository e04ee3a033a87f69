package firstboot

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
)

func TestRemoveStopsTheUnitThenRemovesItsFiles(t *testing.T) {
	root := t.TempDir()
	b, _ := RenderUnit(name)
	for p, c := range map[string][]byte{UnitPath: b} {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755)
		_ = os.WriteFile(filepath.Join(root, p), c, 0o644)
	}
	_ = os.MkdirAll(filepath.Dir(filepath.Join(root, WantsPath)), 0o755)
	_ = os.Symlink(UnitPath, filepath.Join(root, WantsPath))
	if err := WriteResult(root, &Result{State: StateTrying, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if len(Plan(root)) != 2 {
		t.Fatalf("plan %v, want the unit and the result file", Plan(root))
	}
	fake := systemdtest.NewFake(root)
	connect := func(context.Context) (systemd.Manager, error) { return fake, nil }
	if err := Remove(context.Background(), root, connect); err != nil {
		t.Fatal(err)
	}
	for _, p := range Files() {
		if _, err := os.Lstat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", p, err)
		}
	}
	calls := fake.Calls()
	stop, reload := slices.Index(calls, "stop "+UnitName), slices.Index(calls, "daemon-reload")
	if stop < 0 || reload < stop {
		t.Errorf("calls %v: want stop %s first, then a daemon-reload", calls, UnitName)
	}
	if len(Plan(root)) != 0 {
		t.Errorf("plan after removal: %v", Plan(root))
	}
}

func TestRemoveWithoutFirstBootTouchesNothing(t *testing.T) {
	root := t.TempDir()
	connect := func(context.Context) (systemd.Manager, error) {
		t.Fatal("connected to systemd although there is no unit")
		return nil, nil
	}
	if err := Remove(context.Background(), root, connect); err != nil {
		t.Fatal(err)
	}
}
