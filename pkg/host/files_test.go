package host

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/internal/golden"
)

// TestWriteFilesTouchesNoKernel: on a host whose procfs is present (an
// image root with /proc bind-mounted is one), WriteFiles writes the two
// files and comments out fstab's swap, and runs no command and writes no
// sysctl — even with Live set.
func TestWriteFilesTouchesNoKernel(t *testing.T) {
	root := bareHost(t)
	s, k := liveSettings(t, root)
	rec := newMemRecorder()
	paths, err := s.WriteFiles(context.Background(), rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(k.calls) != 0 {
		t.Errorf("commands run: %q", k.calls)
	}
	for key, want := range map[string]string{
		"net/ipv4/ip_forward":         "0\n",
		"net/ipv4/conf/all/rp_filter": "1\n",
	} {
		if got := readFile(t, root, "/proc/sys/"+key); got != want {
			t.Errorf("/proc/sys/%s = %q, want it untouched (%q)", key, got, want)
		}
	}
	if got := readFile(t, root, "/proc/swaps"); got != swapsOn {
		t.Errorf("/proc/swaps changed: %q", got)
	}
	for p, f := range s.Files() {
		if got := readFile(t, root, p); got != string(f.Data) {
			t.Errorf("%s = %q, want %q", p, got, f.Data)
		}
		if _, ok := rec.files[p]; !ok {
			t.Errorf("%s not in the journal", p)
		}
	}
	golden.Assert(t, "fstab.swapoff.golden", []byte(readFile(t, root, Fstab)))
	if want := []string{ModulesLoadFile, SysctlFile, Fstab}; !slices.Equal(paths, want) {
		t.Errorf("paths = %q, want %q", paths, want)
	}
	for k := range rec.sets {
		if k != keyEdited+Fstab && !strings.HasPrefix(k, keyFstab) {
			t.Errorf("recorded %s: WriteFiles changes no kernel setting", k)
		}
	}
	// A second run reports the same paths: fstab stays ours.
	if again, err := s.WriteFiles(context.Background(), newMemRecorder()); err != nil || len(again) != 3 {
		t.Errorf("second WriteFiles = %q, %v", again, err)
	}
}
