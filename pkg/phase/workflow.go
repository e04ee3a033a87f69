package phase

import (
	"context"
	"fmt"
	"strings"
)

// Step names a phase of a command and says what it does, without its work.
type Step struct {
	Name        string
	Description string
}

// Workflow is a command's steps in order: the one list its phases, its
// --skip-phases check, its help and its dry-run plan derive from (as
// kubeadm's workflow runner binds phases to flags and help).
type Workflow []Step

// Work is what a step does on this run.
type Work struct {
	// Satisfied, Await and Run as in Phase.
	Satisfied func(ctx context.Context) (bool, error)
	Await     func(ctx context.Context) error
	Run       func(ctx context.Context, rec Recorder) error
	// Detail, when set, is added to the description for this run
	// ("install the container runtime (docker)").
	Detail string
}

// Names are the steps' names in order.
func (w Workflow) Names() []string {
	out := make([]string, len(w))
	for i, s := range w {
		out[i] = s.Name
	}
	return out
}

// CheckNames reports names that are no step as an *UnknownPhaseError, so a
// command refuses a bad --skip-phases before it takes the lock.
func (w Workflow) CheckNames(names []string) error {
	return CheckNames(w.Phases(nil), names)
}

// Phases binds each step to its work, in the workflow's order; a step
// without work is listed by name and description only (for checks and help).
// Work for a name that is no step is a bug, and panics.
func (w Workflow) Phases(work map[string]Work) []Phase {
	known := map[string]bool{}
	out := make([]Phase, 0, len(w))
	for _, s := range w {
		known[s.Name] = true
		p := Phase{Name: s.Name, Description: s.Description}
		if wk, ok := work[s.Name]; ok {
			p.Satisfied, p.Await, p.Run = wk.Satisfied, wk.Await, wk.Run
			if wk.Detail != "" {
				p.Description += " (" + wk.Detail + ")"
			}
		}
		out = append(out, p)
	}
	for name := range work {
		if !known[name] {
			panic(fmt.Sprintf("phase: work for %q, which is no step of the workflow", name))
		}
	}
	return out
}

// Pick is the steps named, in the workflow's order; a name that is no
// step is a bug, and panics.
func (w Workflow) Pick(names ...string) Workflow {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out Workflow
	for _, s := range w {
		if want[s.Name] {
			out = append(out, s)
			delete(want, s.Name)
		}
	}
	for n := range want {
		panic(fmt.Sprintf("phase: %q is no step of the workflow", n))
	}
	return out
}

// Help lists the steps for a command's help, one per line, aligned.
func (w Workflow) Help() string {
	width := 0
	for _, s := range w {
		width = max(width, len(s.Name))
	}
	var b strings.Builder
	for _, s := range w {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, s.Name, s.Description)
	}
	return b.String()
}
