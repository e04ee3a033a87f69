package preflight

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

func TestFormatTextGolden(t *testing.T) {
	rep := Report{Results: []Result{
		{Name: "root", Verdict: OK, Message: "running as root"},
		{Name: "swap", Verdict: Warning, Message: "swap is on (/swapfile); the kubelet needs it off",
			Remediation: "nothing to do: install runs swapoff -a and comments the swap lines of /etc/fstab out"},
		{Name: "hostname", Verdict: Error, Ignored: true, Message: `hostname "Bad_Name" is not a valid Node name`,
			Remediation: "set a hostname of lowercase letters, digits, '-' and '.'"},
		{Name: "existing-runtime", Verdict: Error, Message: "found software add2tkectl did not install: binary /usr/bin/containerd",
			Remediation: "remove it, or run add2tkectl uninstall"},
	}}
	got := FormatText(rep)
	p := filepath.Join("testdata", "report.txt.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("FormatText differs from %s (-want +got):\n%s", p, d)
	}
}
