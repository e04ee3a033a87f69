package kubelet

import (
	"context"
	"os"
	"slices"
	"testing"
)

// TestWriteFilesStartsNothing: what render uses writes exactly Files with
// their modes (the token's kubeconfig 0600), records the unit, calls no
// service manager and asks no health; without binaries it installs none
// and claims no version.
func TestWriteFilesStartsNothing(t *testing.T) {
	for _, binaries := range []bool{false, true} {
		d, fake, rec, _ := newDeps(t, "1.35.4")
		d.Ready = func(context.Context) error { t.Error("waited for the kubelet"); return nil }
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
		if files[BootstrapKubeconfig].Mode != 0o600 {
			t.Errorf("bootstrap kubeconfig mode %v", files[BootstrapKubeconfig].Mode)
		}
		for p, f := range files {
			b, err := os.ReadFile(d.Root.Path(p))
			if err != nil || string(b) != string(f.Data) {
				t.Errorf("%s: %v, content differs from Files", p, err)
			}
			if st, err := os.Stat(d.Root.Path(p)); err != nil || st.Mode().Perm() != f.Mode {
				t.Errorf("%s: mode %v, want %v", p, st.Mode().Perm(), f.Mode)
			}
			if _, ok := rec.Files[p]; !ok {
				t.Errorf("%s not in the journal", p)
			}
		}
		if !slices.Contains(rec.Units, UnitName) {
			t.Errorf("unit not recorded: %v", rec.Units)
		}
		_, err = os.Stat(d.Root.Path(BinaryPath))
		if has := err == nil; has != binaries {
			t.Errorf("binaries=%v: kubelet installed %v", binaries, has)
		}
		if _, ok := rec.Values["kubelet.version"]; ok != binaries {
			t.Errorf("binaries=%v: version recorded %v", binaries, ok)
		}
	}
}
