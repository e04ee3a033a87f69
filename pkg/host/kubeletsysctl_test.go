package host

import (
	"context"
	"testing"
)

// The kubelet's own kernel settings: install records the host's values
// before the kubelet changes them (and not again after), Revert puts them
// back unless someone changed them since.
func TestKubeletSysctlsAreRecordedOnceAndReverted(t *testing.T) {
	root := bareHost(t)
	writeFixture(t, root, "/proc/sys/kernel/panic", "0\n")
	writeFixture(t, root, "/proc/sys/vm/overcommit_memory", "0\n")
	writeFixture(t, root, "/proc/sys/kernel/panic_on_oops", "0\n")
	s, _ := liveSettings(t, root)
	ctx := context.Background()
	rec := newMemRecorder()
	if _, err := s.Apply(ctx, rec); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kernel.panic", "vm.overcommit_memory", "kernel.panic_on_oops"} {
		if got := rec.sets["host.sysctl."+k]; got != "0" {
			t.Errorf("recorded %s = %q, want the host's 0", k, got)
		}
	}
	// The kubelet starts and sets its values; a re-run records nothing new.
	writeFixture(t, root, "/proc/sys/kernel/panic", "10\n")
	writeFixture(t, root, "/proc/sys/vm/overcommit_memory", "1\n")
	writeFixture(t, root, "/proc/sys/kernel/panic_on_oops", "7\n") // the operator's since
	if err := s.recordKubeletSysctls(rec); err != nil {
		t.Fatal(err)
	}
	if got := rec.sets["host.sysctl.kernel.panic"]; got != "0" {
		t.Fatalf("a re-run overwrote the host's value with the kubelet's: %q", got)
	}
	rec.sets["host.sysctl.kernel.panic_on_oops"] = "0"
	if err := s.Revert(ctx, maps(rec.sets)); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"kernel/panic": "0\n", "vm/overcommit_memory": "0\n", "kernel/panic_on_oops": "7\n"} {
		if got := readFile(t, root, "/proc/sys/"+key); got != want {
			t.Errorf("/proc/sys/%s after Revert = %q, want %q", key, got, want)
		}
	}
}
