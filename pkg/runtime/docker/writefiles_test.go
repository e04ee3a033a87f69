package docker

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// TestWriteFilesStartsNothing: what render uses writes exactly Files (with
// cri-dockerd's units from 1.24), records every unit, calls no service
// manager; without binaries it installs none and claims no version.
func TestWriteFilesStartsNothing(t *testing.T) {
	for _, binaries := range []bool{false, true} {
		d, fake, rec := newDeps(t, "1.30.2")
		d.Ready = func(context.Context) error { t.Error("waited for dockerd"); return nil }
		if _, err := WriteFiles(d, binaries); err != nil {
			t.Fatal(err)
		}
		if calls := fake.Calls(); len(calls) != 0 {
			t.Errorf("binaries=%v: systemd calls %v", binaries, calls)
		}
		files, _, err := Files(d)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := files[systemd.UnitPath(CRIDockerdService)]; !ok {
			t.Errorf("no cri-docker.service for 1.30 in %v", files)
		}
		for p, f := range files {
			b, err := os.ReadFile(d.Root.Path(p))
			if err != nil || string(b) != string(f.Data) {
				t.Errorf("%s: %v, content differs from Files", p, err)
			}
			if _, ok := rec.Files[p]; !ok {
				t.Errorf("%s not in the journal", p)
			}
		}
		for _, u := range Units(d.Config) {
			if !slices.Contains(rec.Units, u) {
				t.Errorf("unit %s not recorded: %v", u, rec.Units)
			}
		}
		_, err = os.Stat(d.Root.Path(BinDir + "/cri-dockerd"))
		if has := err == nil; has != binaries {
			t.Errorf("binaries=%v: cri-dockerd installed %v", binaries, has)
		}
		if _, ok := rec.Values["docker.version"]; ok != binaries {
			t.Errorf("binaries=%v: version recorded %v", binaries, ok)
		}
	}
}
