package containerd

import (
	"os"
	"slices"
	"testing"
)

// TestWriteFilesStartsNothing: what render uses writes exactly Files (with
// their modes), records the unit, calls no service manager and waits for
// no containerd; without binaries it installs none and claims no version.
func TestWriteFilesStartsNothing(t *testing.T) {
	for _, binaries := range []bool{false, true} {
		f := newFixture(t, "1.7.22", "v1", true)
		changed, err := WriteFiles(f.deps, binaries)
		if err != nil {
			t.Fatal(err)
		}
		if calls := f.fake.Calls(); len(calls) != 0 {
			t.Errorf("binaries=%v: systemd calls %v", binaries, calls)
		}
		if f.readys != 0 {
			t.Errorf("binaries=%v: waited for containerd", binaries)
		}
		files, _, err := Files(f.deps)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for p, file := range files {
			want = append(want, p)
			b, err := os.ReadFile(f.deps.Root.Path(p))
			if err != nil || string(b) != string(file.Data) {
				t.Errorf("%s: %v, content differs from Files", p, err)
			}
			if st, err := os.Stat(f.deps.Root.Path(p)); err != nil || st.Mode().Perm() != file.Mode {
				t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), file.Mode)
			}
		}
		if binaries {
			want = append(want, BinDir+"/containerd", RuncPath)
		}
		for _, p := range want {
			if !slices.Contains(changed, p) {
				t.Errorf("binaries=%v: %s not reported as changed (%v)", binaries, p, changed)
			}
		}
		_, err = os.Stat(f.deps.Root.Path(RuncPath))
		if hasRunc := err == nil; hasRunc != binaries {
			t.Errorf("binaries=%v: runc installed %v", binaries, hasRunc)
		}
		if _, ok := f.rec.Values["containerd.version"]; ok != binaries {
			t.Errorf("binaries=%v: version recorded %v", binaries, ok)
		}
		if !slices.Contains(f.rec.Units, UnitName) {
			t.Errorf("unit not recorded: %v", f.rec.Units)
		}
		got := f.rec.FilePaths()
		for _, p := range want {
			if !slices.Contains(got, p) {
				t.Errorf("binaries=%v: %s not in the journal %v", binaries, p, got)
			}
		}
	}
}
