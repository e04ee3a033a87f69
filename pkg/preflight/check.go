// Package preflight holds the named checks install runs before it changes
// anything. Each check explains itself: a verdict, what it found, and the
// sentence that tells the operator what to do.
package preflight

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Verdict is the outcome of one check.
type Verdict string

const (
	OK      Verdict = "ok"
	Warning Verdict = "warning"
	Error   Verdict = "error"
)

// Result is what one check found.
type Result struct {
	Name    string  `json:"name"`
	Verdict Verdict `json:"verdict"`
	Message string  `json:"message"`
	// Remediation tells the operator what to do; empty when ok.
	Remediation string `json:"remediation,omitempty"`
	// Ignored means the check failed but --ignore-preflight-errors named it,
	// so the failure counts as a warning.
	Ignored bool `json:"ignored,omitempty"`
	// Took is how long the check ran (in the debug log only).
	Took time.Duration `json:"-"`
}

// Check is one named check. Run never panics on a broken host: what it
// cannot find out is itself a finding.
type Check struct {
	Name        string
	Description string
	Run         func(ctx context.Context, in *Inputs) Result
}

// Report is the result of every check, in the order of Checks.
type Report struct {
	Results []Result `json:"results"`
}

// Failed returns the results that fail the run.
func (r Report) Failed() []Result {
	var out []Result
	for _, res := range r.Results {
		if res.Verdict == Error && !res.Ignored {
			out = append(out, res)
		}
	}
	return out
}

// FailedError lists every failed check; the CLI turns it into exit code 3.
type FailedError struct {
	Failed []Result
}

func (e *FailedError) Error() string {
	names := make([]string, len(e.Failed))
	var b strings.Builder
	for i, f := range e.Failed {
		names[i] = f.Name
		fmt.Fprintf(&b, "\n  %s: %s", f.Name, f.Message)
		if f.Remediation != "" {
			fmt.Fprintf(&b, "\n    fix: %s", f.Remediation)
		}
	}
	return fmt.Sprintf("%d preflight check(s) failed:%s\nfix them and run again, or skip them with --ignore-preflight-errors=%s",
		len(e.Failed), b.String(), strings.Join(names, ","))
}

// UnknownCheckError is an --ignore-preflight-errors name no check has.
type UnknownCheckError struct{ Name string }

func (e *UnknownCheckError) Error() string {
	return fmt.Sprintf("--ignore-preflight-errors: there is no check named %q; the checks are: %s, or all", e.Name, strings.Join(Names(), ", "))
}

// IgnoreAll in the ignore list turns every failure into a warning.
const IgnoreAll = "all"

// Checks returns every check, in the order they are reported.
func Checks() []Check {
	return []Check{
		checkRoot,
		checkOSArch,
		checkKernel,
		checkSystemd,
		checkCgroup,
		checkSwap,
		checkKernelModules,
		checkSysctls,
		checkCPUMemory,
		checkDiskSpace,
		checkHostname,
		checkPort10250,
		checkExistingRuntime,
		checkPresignedLink,
		checkCOSReachable,
		checkAPIServer,
		checkNodeIP,
		checkClock,
		checkKubeletVersion,
	}
}

// Names returns the names of every check.
func Names() []string {
	var out []string
	for _, c := range Checks() {
		out = append(out, c.Name)
	}
	return out
}

// Lookup returns the named check, for callers that need one alone (status).
func Lookup(name string) (Check, bool) {
	for _, c := range Checks() {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Run runs every check (concurrently: the network ones wait on timeouts),
// applies the ignore list, and returns the whole report. The error is a
// *FailedError listing every failed check, or *UnknownCheckError for an
// ignore list naming no check.
func Run(ctx context.Context, in *Inputs, ignore []string) (Report, error) {
	return RunChecks(ctx, in, Checks(), ignore)
}

// RunChecks is Run over a chosen list of checks.
func RunChecks(ctx context.Context, in *Inputs, checks []Check, ignore []string) (Report, error) {
	ignored, err := parseIgnore(ignore)
	if err != nil {
		return Report{}, err
	}
	in = in.withDefaults()
	in.version = &versionProbe{}
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runOne(ctx, in, c)
		}()
	}
	wg.Wait()

	rep := Report{Results: results}
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Verdict == Error && (ignored[IgnoreAll] || ignored[r.Name]) {
			r.Ignored = true
		}
	}
	if failed := rep.Failed(); len(failed) > 0 {
		return rep, &FailedError{Failed: failed}
	}
	return rep, nil
}

// runOne runs a check, turning a panic into a failed result so that one
// broken check never hides the others.
func runOne(ctx context.Context, in *Inputs, c Check) (res Result) {
	start := time.Now()
	defer func() {
		res.Took = time.Since(start)
		if p := recover(); p != nil {
			res = Result{Verdict: Error, Message: fmt.Sprintf("the check crashed: %v", p),
				Remediation: "report this as a bug; skip the check with --ignore-preflight-errors=" + c.Name}
		}
		res.Name = c.Name
	}()
	return c.Run(ctx, in)
}

func parseIgnore(ignore []string) (map[string]bool, error) {
	known := Names()
	out := map[string]bool{}
	for _, raw := range ignore {
		for _, n := range strings.Split(raw, ",") {
			n = strings.ToLower(strings.TrimSpace(n))
			if n == "" {
				continue
			}
			if n != IgnoreAll && !slices.Contains(known, n) {
				return nil, &UnknownCheckError{Name: n}
			}
			out[n] = true
		}
	}
	return out, nil
}

func ok(format string, a ...any) Result {
	return Result{Verdict: OK, Message: fmt.Sprintf(format, a...)}
}

func warn(remedy, format string, a ...any) Result {
	return Result{Verdict: Warning, Message: fmt.Sprintf(format, a...), Remediation: remedy}
}

func fail(remedy, format string, a ...any) Result {
	return Result{Verdict: Error, Message: fmt.Sprintf(format, a...), Remediation: remedy}
}
