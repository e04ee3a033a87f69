package systemd_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
)

func TestEnsureStartsOnceThenRestartsOnlyForNewerFiles(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	unit := filepath.Join(root, systemd.UnitPath("x.service"))
	conf := filepath.Join(root, "/etc/x.conf")
	for _, p := range []string{unit, conf} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("[Service]\nExecStart=/bin/true\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := systemdtest.NewFake(root)
	svc := systemd.Service{Unit: "x.service", Files: []string{unit, conf}}

	steps := []struct {
		name                      string
		before                    func()
		unitChanged, filesChanged bool
		want                      []string
	}{
		{"fresh host", nil, true, true, []string{"daemon-reload", "enable", "start"}},
		{"nothing changed", nil, false, false, nil},
		{"config written by a run that was killed before restarting", func() {
			future := time.Now().Add(time.Minute)
			if err := os.Chtimes(conf, future, future); err != nil {
				t.Fatal(err)
			}
		}, false, false, []string{"restart"}},
		{"nothing changed after the restart", func() {
			// The restart happened "now"; bring the file back behind it.
			past := time.Now().Add(-time.Minute)
			if err := os.Chtimes(conf, past, past); err != nil {
				t.Fatal(err)
			}
		}, false, false, nil},
		{"config rewritten in this run", nil, false, true, []string{"restart"}},
		{"stopped by the operator", func() { m.SetActive("x.service", false) }, false, false, []string{"start"}},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		did, err := svc.Ensure(ctx, m, s.unitChanged, s.filesChanged)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !reflect.DeepEqual(did, s.want) {
			t.Errorf("%s: did %v, want %v", s.name, did, s.want)
		}
		if strings.HasPrefix(s.name, "config written by a run") {
			continue // its mtime is in the future, still ahead of the restart
		}
		ok, err := svc.Satisfied(ctx, m)
		if err != nil || !ok {
			t.Errorf("%s: not satisfied after Ensure (%v)", s.name, err)
		}
	}
}

func TestEnsureReportsAUnitSystemdCannotLoad(t *testing.T) {
	m := systemdtest.NewFake(t.TempDir())
	_, err := systemd.Service{Unit: "missing.service"}.Ensure(context.Background(), m, true, true)
	if err == nil || !strings.Contains(err.Error(), "systemd-analyze verify") {
		t.Fatalf("err = %v, want one that says how to check the unit", err)
	}
}

func TestRenderRefusesInjectedDirective(t *testing.T) {
	u := systemd.Unit{Sections: []systemd.Section{{Name: "Service", Directives: []systemd.Directive{
		systemd.D("ExecStart", "/bin/true\nExecStartPost=/bin/evil"),
	}}}}
	if _, err := u.Render(); err == nil {
		t.Fatal("rendered a value with a newline")
	}
}

func TestEnvironmentFileLineQuotes(t *testing.T) {
	got, err := systemd.EnvironmentFileLine("A", `x "y" \z`)
	if err != nil || got != `A="x \"y\" \\z"`+"\n" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := systemd.EnvironmentFileLine("A", "x\ny"); err == nil {
		t.Error("accepted a newline")
	}
}

func TestLoadedFromDiskOnlyWhenSystemdReadEveryChangedFile(t *testing.T) {
	unit := systemd.UnitPath("x.service")
	proxy := systemd.DropInPath("x.service", "proxy.conf")
	old := systemd.DropInPath("x.service", "old.conf")
	loaded := systemd.UnitStatus{Name: "x.service", LoadState: "loaded", FragmentPath: unit, DropInPaths: []string{proxy}}
	on := map[string]bool{unit: true, proxy: true}
	exists := func(p string) bool { return on[p] }
	with := func(f func(*systemd.UnitStatus)) systemd.UnitStatus {
		st := loaded
		f(&st)
		return st
	}
	for _, c := range []struct {
		name    string
		st      systemd.UnitStatus
		changed []string
		want    bool
	}{
		{"unit and drop-in written, both read", loaded, []string{unit, proxy}, true},
		{"a removed drop-in systemd does not read", loaded, []string{unit, old}, true},
		{"not found (systemd before 246 keeps it so)", with(func(s *systemd.UnitStatus) { s.LoadState = "not-found"; s.FragmentPath = "" }), []string{unit}, false},
		{"systemd says the files changed since", with(func(s *systemd.UnitStatus) { s.NeedDaemonReload = true }), []string{unit}, false},
		{"loaded from another directory's unit file", with(func(s *systemd.UnitStatus) { s.FragmentPath = "/lib/systemd/system/x.service" }), []string{unit}, false},
		{"a new drop-in systemd has not read", with(func(s *systemd.UnitStatus) { s.DropInPaths = nil }), []string{unit, proxy}, false},
		{"a removed drop-in systemd still reads", with(func(s *systemd.UnitStatus) { s.DropInPaths = []string{proxy, old} }), []string{old}, false},
		{"a manager that reports no files", with(func(s *systemd.UnitStatus) { s.FragmentPath = ""; s.DropInPaths = nil }), []string{unit}, false},
	} {
		if got := systemd.LoadedFromDisk(c.st, c.changed, exists); got != c.want {
			t.Errorf("%s: LoadedFromDisk = %v, want %v", c.name, got, c.want)
		}
	}
	if !systemd.Owns("x.service", proxy) || !systemd.Owns("x.service", unit) || systemd.Owns("x.service", systemd.UnitPath("y.service")) || systemd.Owns("x.service", "/etc/x.service.d/a.conf") {
		t.Error("Owns: want the unit file and its drop-ins under UnitDir only")
	}
}
