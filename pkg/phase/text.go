package phase

import (
	"bytes"
	"fmt"
	"text/tabwriter"
	"time"
)

// planWords say what a dry run found, in the operator's words.
var planWords = map[Status]string{
	StatusPlanned:   "would run",
	StatusUnchanged: "already satisfied",
	StatusSkipped:   "skipped",
}

// FormatText renders a result for people: the plan of a dry run, or the
// summary of a run.
func FormatText(res *Result) []byte {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	if res.DryRun {
		fmt.Fprintln(tw, "PHASE\tPLAN\tDESCRIPTION")
		var notes []string
		for _, p := range res.Phases {
			plan := planWords[p.Status]
			if p.Error != "" {
				plan += " (see below)"
				notes = append(notes, p.Name+": "+p.Error)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, plan, p.Description)
		}
		_ = tw.Flush()
		for _, n := range notes {
			fmt.Fprintln(&b, n)
		}
		fmt.Fprintln(&b, "dry run: nothing was changed")
		return b.Bytes()
	}
	fmt.Fprintln(tw, "PHASE\tSTATUS\tDURATION")
	ran := 0
	for _, p := range res.Phases {
		d := "-"
		if p.Status == StatusDone || p.Status == StatusFailed {
			ran++
			d = FormatDuration(time.Duration(p.DurationSeconds * float64(time.Second)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Status, d)
	}
	for _, n := range res.NotRun {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", n, "not run", "-")
	}
	_ = tw.Flush()
	changed := "no"
	if res.Changed {
		changed = "yes"
	}
	total := FormatDuration(time.Duration(res.DurationSeconds * float64(time.Second)))
	fmt.Fprintf(&b, "changed: %s; %d of %d phases ran, in %s\n", changed, ran, len(res.Phases)+len(res.NotRun), total)
	return b.Bytes()
}
