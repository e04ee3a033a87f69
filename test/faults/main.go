// Command faults runs the fault matrix of add2tkectl against the end-to-end
// environment (scripts/e2e) and prints one table: each fault, its trials,
// how many converged or failed cleanly, the artifact bytes served per
// artifact set, and whether anything unverified or half-installed was left.
//
//	scripts/faults.sh            (make faults)    the whole matrix, ~25 min
//	QUICK=1 scripts/faults.sh                     fewer trials, ~10 min
//	FAULTS_ONLY='kill|cache' scripts/faults.sh    rows whose name matches
//
// It uses one host (FAULTS_HOST, default host3) reset before every trial
// under the machine-wide e2e lock, its own artifact server (cosserver
// --faults on 10.77.0.1:8081, so faults reach no one else's test) and
// add2tkectl built from a commit (FAULTS_COMMIT, default HEAD).
package main

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

func run(stdout, stderr io.Writer) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the fault matrix needs root (the e2e environment's hosts and netns)")
	}
	quick := os.Getenv("QUICK") == "1"
	host := envOr("FAULTS_HOST", "host3")
	budget, err := time.ParseDuration(envOr("FAULTS_BUDGET", "40m"))
	if err != nil {
		return fmt.Errorf("FAULTS_BUDGET: %w", err)
	}
	only, err := regexp.Compile(envOr("FAULTS_ONLY", ""))
	if err != nil {
		return fmt.Errorf("FAULTS_ONLY: %w", err)
	}
	seed := time.Now().UnixNano() % 1e6
	if s := os.Getenv("FAULTS_SEED"); s != "" {
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			return fmt.Errorf("FAULTS_SEED: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return fmt.Errorf("run from the add2tkectl repository: %w", err)
	}
	began := time.Now()
	l, err := newLab(ctx, strings.TrimSpace(string(root)), host, stderr)
	if err != nil {
		return err
	}
	defer os.RemoveAll(l.work)
	defer l.stop()
	l.logf("building add2tkectl and cosserver at %s", envOr("FAULTS_COMMIT", "HEAD"))
	if err := l.build(ctx, envOr("FAULTS_COMMIT", "HEAD")); err != nil {
		return err
	}
	if err := l.serve(ctx); err != nil {
		return err
	}
	if l.bundle, err = l.publish(ctx, "normal", 3*time.Hour); err != nil {
		return err
	}
	l.phaseSeconds = map[string]float64{"download": 5, "runtime": 5, "join": 10}

	deadline := began.Add(budget)
	var reports []report
	for _, r := range matrix(l, quick) {
		if !only.MatchString(r.name) {
			continue
		}
		n := r.trials
		if quick {
			n = r.quick
		}
		rep := report{row: r}
		rng := rand.New(rand.NewSource(seed + int64(len(reports))))
		if r.perStep != nil {
			ms := l.sequence(ctx, r, n, rng, deadline)
			rep.add(ms...)
			rep.skipped = max(n-len(ms), 0)
		} else {
			for i := 0; i < n; i++ {
				if time.Now().After(deadline) || ctx.Err() != nil {
					rep.skipped = n - i
					break
				}
				rep.add(l.trial(ctx, r, i, rng))
			}
		}
		l.logf("%s: %s", r.name, rep.summary())
		reports = append(reports, rep)
	}
	if err := l.lockMachine(ctx); err == nil {
		// leave the host pristine for the next user
		_, _ = l.fresh(ctx, l.bundle)
		l.unlock()
	}
	mode := "full"
	if quick {
		mode = "QUICK=1"
	}
	fmt.Fprintf(stdout, "fault matrix: add2tkectl %s on %s, %s, seed %d, artifact set %.1f MiB, wall %s\n\n",
		l.commit, host, mode, seed, float64(l.setSize())/mib, time.Since(began).Round(time.Second))
	printTable(stdout, reports, l.setSize())
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// measured is one trial's outcome with the artifact bytes it was served.
type measured struct {
	outcome
	bytes int64
}

// trial runs one trial of r on a fresh host, under the machine lock.
func (l *lab) trial(ctx context.Context, r row, i int, rng *rand.Rand) measured {
	if err := l.lockMachine(ctx); err != nil {
		return measured{outcome: outcome{kind: bad, note: err.Error()}}
	}
	defer l.unlock()
	bin, err := l.fresh(ctx, l.bundle)
	if err != nil {
		return measured{outcome: outcome{kind: bad, note: err.Error()}}
	}
	l.logf("%s #%d", r.name, i+1)
	o := r.run(ctx, l, &trial{n: i, bin: bin, rng: rng})
	if len(o.leftover) > 0 {
		o.kind = bad
	}
	return measured{outcome: o, bytes: l.artifactBytes(ctx)}
}

// sequence runs a row whose trials are steps on one host, under one hold of
// the lock; the bytes are shared out evenly.
func (l *lab) sequence(ctx context.Context, r row, n int, rng *rand.Rand, deadline time.Time) []measured {
	if err := l.lockMachine(ctx); err != nil {
		return []measured{{outcome: outcome{kind: bad, note: err.Error()}}}
	}
	defer l.unlock()
	bin, err := l.fresh(ctx, l.bundle)
	if err != nil {
		return []measured{{outcome: outcome{kind: bad, note: err.Error()}}}
	}
	l.logf("%s: %d steps", r.name, n)
	sctx, cancel := context.WithDeadline(ctx, deadline.Add(5*time.Minute))
	defer cancel()
	outs := r.perStep(sctx, l, &trial{bin: bin, rng: rng}, n)
	total := l.artifactBytes(ctx)
	var ms []measured
	for _, o := range outs {
		if len(o.leftover) > 0 {
			o.kind = bad
		}
		ms = append(ms, measured{outcome: o, bytes: total / int64(len(outs))})
	}
	return ms
}
