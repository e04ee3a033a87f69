package preflight

import (
	"bytes"
	"fmt"
	"strings"
	"text/tabwriter"
)

// FormatText renders a report as a table for a terminal: one line per
// check, the remediation under every check that is not ok, and a summary.
func FormatText(rep Report) []byte {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAILS")
	var warnings, failed, ignored int
	for _, r := range rep.Results {
		verdict := string(r.Verdict)
		switch {
		case r.Ignored:
			verdict = "ignored"
			ignored++
		case r.Verdict == Warning:
			warnings++
		case r.Verdict == Error:
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, verdict, oneLine(r.Message))
		if r.Verdict != OK && r.Remediation != "" {
			fmt.Fprintf(tw, "\t\tfix: %s\n", oneLine(r.Remediation))
		}
	}
	tw.Flush()
	fmt.Fprintf(&b, "\n%d checks: %d ok, %d warning(s), %d failed, %d ignored\n",
		len(rep.Results), len(rep.Results)-warnings-failed-ignored, warnings, failed, ignored)
	return b.Bytes()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
