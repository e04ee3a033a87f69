package preflight

import (
	"testing"

	"github.com/add2tkectl/add2tkectl/internal/golden"
)

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
	golden.Assert(t, "report.txt.golden", got)
}
