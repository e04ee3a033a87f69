package main

import (
	"fmt"
	"io"
	"strings"
)

// report is a row's trials, measured.
type report struct {
	row
	trials  []measured
	skipped int // not run: the time budget ran out
}

func (r *report) add(ms ...measured) { r.trials = append(r.trials, ms...) }

func (r *report) count(k kind) int {
	n := 0
	for _, t := range r.trials {
		if t.kind == k {
			n++
		}
	}
	return n
}

func (r *report) leftBehind() string {
	n, what := 0, ""
	for _, t := range r.trials {
		if len(t.leftover) > 0 {
			n++
			if what == "" {
				what = strings.Join(t.leftover, " ")
			}
		}
	}
	if n == 0 {
		return "none"
	}
	return fmt.Sprintf("%d: %s", n, what)
}

func (r *report) summary() string {
	return fmt.Sprintf("%d/%d ok (%d converged, %d failed cleanly, %d bad)",
		r.count(converged)+r.count(cleanFail), len(r.trials), r.count(converged), r.count(cleanFail), r.count(bad))
}

// served is the mean of bytes served per trial over the artifact set size.
func (r *report) served(set int64) string {
	if len(r.trials) == 0 || set == 0 {
		return "-"
	}
	var sum int64
	for _, t := range r.trials {
		sum += t.bytes
	}
	return fmt.Sprintf("%.2f", float64(sum)/float64(len(r.trials))/float64(set))
}

// printTable prints the matrix as a Markdown table, then the notes: every
// bad trial's, and one clean failure's message per row.
func printTable(w io.Writer, reports []report, set int64) {
	fmt.Fprintln(w, "| fault | expected | trials | ok | converged | failed cleanly | bad | served / set | left unverified or half-installed |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range reports {
		trials := fmt.Sprint(len(r.trials))
		if r.skipped > 0 {
			trials += fmt.Sprintf(" (+%d skipped)", r.skipped)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d/%d | %d | %d | %d | %s | %s |\n", r.name, r.expect, trials,
			r.count(converged)+r.count(cleanFail), len(r.trials), r.count(converged), r.count(cleanFail), r.count(bad),
			r.served(set), r.leftBehind())
	}
	fmt.Fprintln(w)
	for _, r := range reports {
		shownClean := false
		for i, t := range r.trials {
			switch {
			case t.kind == bad:
				fmt.Fprintf(w, "- BAD %s #%d: %s\n", r.name, i+1, t.note)
			case t.kind == cleanFail && !shownClean:
				fmt.Fprintf(w, "- %s #%d: %s\n", r.name, i+1, t.note)
				shownClean = true
			case r.name == "none (baseline install)":
				fmt.Fprintf(w, "- %s: %s\n", r.name, t.note)
			}
		}
	}
}
