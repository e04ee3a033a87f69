package phase

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/logging"
	"github.com/add2tkectl/add2tkectl/pkg/redact"
)

// Status is what became of a phase in a run.
type Status string

const (
	// StatusDone: the phase ran and succeeded.
	StatusDone Status = "done"
	// StatusUnchanged: the host already satisfied the phase; it did not run.
	StatusUnchanged Status = "unchanged"
	// StatusSkipped: the operator skipped it (--skip-phases).
	StatusSkipped Status = "skipped"
	// StatusFailed: the phase ran and failed; the run stopped there.
	StatusFailed Status = "failed"
	// StatusPlanned: a dry run found that the phase would run.
	StatusPlanned Status = "planned"
	// StatusRunning appears only in the journal: a run is inside the phase,
	// or was killed there.
	StatusRunning Status = "running"
)

// Options shape one run of a list of phases.
type Options struct {
	// Root is the directory the journal lives under ("/" in production).
	Root string
	// DryRun reports the plan and changes nothing: no phase runs and the
	// journal is neither created nor written.
	DryRun bool
	// Skip names phases not to run; an unknown name is an *UnknownPhaseError.
	Skip []string
	// Progress receives one human line per phase event; nil for none.
	Progress io.Writer
	// Log receives the runner's debug records; nil for none.
	Log logrus.FieldLogger
	// NoJournal runs without reading or writing the state journal (and
	// Recorder calls are dropped): for uninstall, which acts on the
	// journal and removes it at its end.
	NoJournal bool
}

// Result is what a run did, for -o json|yaml and the text summary.
type Result struct {
	// Changed is whether the run changed the host: a phase ran, or a phase
	// that failed had already recorded something.
	Changed bool `json:"changed"`
	DryRun  bool `json:"dryRun,omitempty"`
	// Phases are the phases the run reached, in order.
	Phases []PhaseResult `json:"phases"`
	// NotRun names the phases after the one that stopped the run.
	NotRun          []string `json:"notRun,omitempty"`
	DurationSeconds float64  `json:"durationSeconds"`
}

// PhaseResult is one phase's outcome.
type PhaseResult struct {
	Name            string  `json:"name"`
	Description     string  `json:"description"`
	Status          Status  `json:"status"`
	DurationSeconds float64 `json:"durationSeconds"`
	// Error is why the phase failed (or, in a dry run, why its check could
	// not tell), secrets redacted.
	Error string `json:"error,omitempty"`
}

// UnknownPhaseError is a phase name that is not in the list.
type UnknownPhaseError struct {
	Unknown []string
	Valid   []string
}

func (e *UnknownPhaseError) Error() string {
	return fmt.Sprintf("unknown phase %s: the phases are %s", quoteAll(e.Unknown), strings.Join(e.Valid, ", "))
}

// PhaseError is a phase that failed; it wraps the phase's own error so the
// caller can still tell what kind of failure it was (errors.As).
type PhaseError struct {
	Phase string
	Err   error
}

// Error names the phase and redacts secrets the cause may carry.
func (e *PhaseError) Error() string {
	return "phase " + e.Phase + ": " + redact.String(e.Err.Error())
}

func (e *PhaseError) Unwrap() error { return e.Err }

// Run runs phases in order: skipped phases are passed over, satisfied ones
// count as unchanged, the first failure or a cancelled ctx stops the run.
// The result is returned also when the run fails, reporting what it reached.
func Run(ctx context.Context, phases []Phase, o Options) (*Result, error) {
	skip, err := skipSet(phases, o.Skip)
	if err != nil {
		return nil, err
	}
	log := o.Log
	if log == nil {
		log = logging.Discard()
	}
	var jw *journalWriter
	if !o.DryRun && !o.NoJournal {
		if jw, err = openJournal(o.Root, time.Now); err != nil {
			return nil, err
		}
	}
	r := &run{phases: phases, o: o, log: log, jw: jw, res: &Result{DryRun: o.DryRun, Phases: []PhaseResult{}}}
	began := time.Now()
	err = r.all(ctx, skip)
	if ferr := jw.flush(); ferr != nil && err == nil {
		err = ferr
	}
	r.res.DurationSeconds = seconds(time.Since(began))
	return r.res, err
}

type run struct {
	phases []Phase
	o      Options
	log    logrus.FieldLogger
	jw     *journalWriter
	res    *Result
}

func (r *run) all(ctx context.Context, skip map[string]bool) error {
	for i, p := range r.phases {
		if skip[p.Name] {
			r.progress(i, "%s … skipped", p.Description)
			r.res.Phases = append(r.res.Phases, PhaseResult{Name: p.Name, Description: p.Description, Status: StatusSkipped})
			continue
		}
		if err := ctx.Err(); err != nil {
			r.stopAt(i)
			why := err.Error()
			if cause := context.Cause(ctx); cause != nil && cause != err {
				why = cause.Error() // "interrupt signal received"
			}
			r.progress(i, "not started: stopped (%s)", why)
			return fmt.Errorf("stopped before phase %s (%s): run the command again to go on from there: %w", p.Name, why, err)
		}
		if err := r.one(ctx, i, p); err != nil {
			r.stopAt(i + 1)
			return err
		}
	}
	return nil
}

func (r *run) one(ctx context.Context, i int, p Phase) error {
	log := r.log.WithField("phase", p.Name)
	pr := PhaseResult{Name: p.Name, Description: p.Description}
	began := time.Now()
	satisfied, checkErr := false, error(nil)
	if p.Satisfied != nil {
		satisfied, checkErr = p.Satisfied(ctx)
	}
	if r.o.DryRun {
		switch {
		case checkErr != nil:
			pr.Status, pr.Error = StatusPlanned, "cannot tell whether already satisfied: "+redact.String(checkErr.Error())
		case satisfied:
			pr.Status = StatusUnchanged
		default:
			pr.Status = StatusPlanned
		}
		pr.DurationSeconds = seconds(time.Since(began))
		r.res.Phases = append(r.res.Phases, pr)
		return nil
	}
	if checkErr != nil {
		return r.fail(i, pr, began, nil, fmt.Errorf("check whether the host already satisfies it: %w", checkErr))
	}
	if satisfied {
		if p.Await != nil {
			r.progress(i, "%s … already satisfied, waiting for it to be healthy", p.Description)
			if err := p.Await(ctx); err != nil {
				return r.fail(i, pr, began, nil, err)
			}
		}
		if err := r.jw.finish(p.Name, StatusUnchanged, ""); err != nil {
			return &PhaseError{Phase: p.Name, Err: err}
		}
		pr.Status, pr.DurationSeconds = StatusUnchanged, seconds(time.Since(began))
		r.res.Phases = append(r.res.Phases, pr)
		r.progress(i, "%s … already satisfied", p.Description)
		log.Debug("phase already satisfied")
		return nil
	}
	if err := r.jw.start(p.Name); err != nil {
		return &PhaseError{Phase: p.Name, Err: err}
	}
	r.progress(i, "%s …", p.Description)
	log.Debug("phase started")
	rec := &recorder{w: r.jw, phase: p.Name}
	if err := p.Run(ctx, rec); err != nil {
		return r.fail(i, pr, began, rec, err)
	}
	d := time.Since(began)
	if err := r.jw.finish(p.Name, StatusDone, ""); err != nil {
		return &PhaseError{Phase: p.Name, Err: err}
	}
	pr.Status, pr.DurationSeconds = StatusDone, seconds(d)
	r.res.Phases = append(r.res.Phases, pr)
	r.res.Changed = true
	r.progress(i, "done in %s", FormatDuration(d))
	log.WithField("durationSeconds", pr.DurationSeconds).Debug("phase done")
	return nil
}

func (r *run) fail(i int, pr PhaseResult, began time.Time, rec *recorder, cause error) error {
	d := time.Since(began)
	perr := &PhaseError{Phase: pr.Name, Err: cause}
	msg := redact.String(cause.Error())
	// A failure inside a phase that has already written leaves it changed.
	if rec != nil && rec.recorded() {
		r.res.Changed = true
	}
	pr.Status, pr.DurationSeconds, pr.Error = StatusFailed, seconds(d), msg
	r.res.Phases = append(r.res.Phases, pr)
	r.progress(i, "failed after %s: %s", FormatDuration(d), msg)
	r.log.WithField("phase", pr.Name).WithField("error", msg).Debug("phase failed")
	if err := r.jw.finish(pr.Name, StatusFailed, msg); err != nil {
		r.log.WithField("phase", pr.Name).WithField("error", err.Error()).Warn("could not record the failure in the state journal")
	}
	return perr
}

// stopAt lists the phases from index i on as not run.
func (r *run) stopAt(i int) {
	for _, p := range r.phases[i:] {
		r.res.NotRun = append(r.res.NotRun, p.Name)
	}
}

func (r *run) progress(i int, format string, a ...any) {
	if r.o.Progress == nil || r.o.DryRun {
		return
	}
	p := r.phases[i]
	fmt.Fprintf(r.o.Progress, "[%d/%d] %s: %s\n", i+1, len(r.phases), p.Name, fmt.Sprintf(format, a...))
}

// CheckNames reports names that are not phases as an *UnknownPhaseError,
// so a command can refuse a bad --skip-phases before it takes the lock.
func CheckNames(phases []Phase, names []string) error {
	_, err := skipSet(phases, names)
	return err
}

// skipSet checks the names to skip against the phases.
func skipSet(phases []Phase, names []string) (map[string]bool, error) {
	valid := make([]string, 0, len(phases))
	known := map[string]bool{}
	for _, p := range phases {
		if known[p.Name] {
			return nil, fmt.Errorf("phase %q is listed twice: this is a bug in add2tkectl", p.Name)
		}
		known[p.Name] = true
		valid = append(valid, p.Name)
	}
	skip := map[string]bool{}
	var unknown []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !known[n] {
			unknown = append(unknown, n)
		}
		skip[n] = true
	}
	if len(unknown) > 0 {
		return nil, &UnknownPhaseError{Unknown: unknown, Valid: valid}
	}
	return skip, nil
}

// FormatDuration rounds d for people: milliseconds below a second, tenths above.
func FormatDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func seconds(d time.Duration) float64 {
	return math.Round(d.Seconds()*1000) / 1000
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
