package main

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"time"
)

// outcome of one trial.
type outcome struct {
	kind     kind
	leftover []string // unverified or half-installed things the faulted run left
	note     string   // what happened, when it is worth reading
}

type kind int

const (
	converged kind = iota // install completed under the fault (or after the kill)
	cleanFail             // exited with the expected code, nothing left, the next install completed
	bad                   // anything else
)

// trial is what a row's run gets: the host prepared, the bundle in it.
type trial struct {
	n   int    // 0-based
	bin string // the bundle's path in the host
	rng *rand.Rand
}

// row is one fault of the matrix.
type row struct {
	name    string
	expect  string
	trials  int
	quick   int                                                          // trials with QUICK=1
	locked  bool                                                         // one lock hold for all trials (a sequence on one host)
	run     func(ctx context.Context, l *lab, t *trial) outcome          // one trial, on a fresh host
	perStep func(ctx context.Context, l *lab, t *trial, n int) []outcome // or the whole sequence at once
}

const mib = 1 << 20

// installPhases are install's phases after preflight, in order.
var installPhases = []string{"download", "host", "runtime", "images", "kubelet", "join", "userscript"}

func matrix(l *lab, quick bool) []row {
	boundaries := installPhases
	if quick {
		boundaries = []string{"download", "runtime", "join"}
	}
	return []row{
		{name: "none (baseline install)", expect: "converge", trials: 1, quick: 1, run: baseline},
		{name: "kill -9 at each phase start", expect: "next install converges", trials: len(boundaries), quick: len(boundaries),
			run: func(ctx context.Context, l *lab, t *trial) outcome { return killAt(ctx, l, t, boundaries[t.n], -1) }},
		{name: "kill -9 at a random instant in download/runtime/join", expect: "next install converges", trials: 10, quick: 3,
			run: func(ctx context.Context, l *lab, t *trial) outcome {
				p := []string{"download", "runtime", "join"}[t.n%3]
				return killAt(ctx, l, t, p, 0.05+0.9*t.rng.Float64())
			}},
		{name: "artifacts: 5xx bursts (2x 503 on every object and the manifest)", expect: "converge, or exit 4/5 clean", trials: 2, quick: 1,
			run: artifactFault(func(l *lab) []fault {
				fs := []fault{{Path: "/manifest-normal.json", Status: 503, Times: 2}}
				for _, p := range l.objectPaths() {
					fs = append(fs, fault{Path: p, Status: 503, Times: 2})
				}
				return fs
			})},
		{name: "artifacts: connection reset every 8 MiB", expect: "converge, or exit 4/5 clean", trials: 2, quick: 1,
			run: artifactFault(func(l *lab) []fault {
				var fs []fault
				for _, p := range l.objectPaths() {
					fs = append(fs, fault{Path: p, ResetEvery: 8 * mib})
				}
				return fs
			})},
		{name: "artifacts: truncated body (clean FIN at half, once per object)", expect: "converge, or exit 4/5 clean", trials: 2, quick: 1,
			run: artifactFault(func(l *lab) []fault {
				var fs []fault
				for _, a := range l.payload.Artifacts {
					for _, p := range pathsOf(a) {
						fs = append(fs, fault{Path: p, TruncateAfter: max(a.Size/2, 1), Times: 1})
					}
				}
				return fs
			})},
		{name: "artifacts: 10 s stall (after 1 MiB, once per object)", expect: "converge, or exit 4/5 clean", trials: 2, quick: 1,
			run: artifactFault(func(l *lab) []fault {
				var fs []fault
				for _, a := range l.payload.Artifacts {
					for _, p := range pathsOf(a) {
						fs = append(fs, fault{Path: p, StallAfter: min(mib, a.Size/2), Stall: "10s", Times: 1})
					}
				}
				return fs
			})},
		{name: "artifacts: wrong checksum (kubelet corrupted, every time)", expect: "exit 4 clean", trials: 2, quick: 1,
			run: artifactFault(func(l *lab) []fault {
				k, _ := l.artifactByName("kubelet")
				var fs []fault
				for _, p := range pathsOf(k) {
					fs = append(fs, fault{Path: p, Corrupt: true})
				}
				return fs
			})},
		{name: "artifacts: links expire mid-download (15 s links, 4 MiB/s, reset every 16 MiB)", expect: "exit 5 clean, or converge", trials: 2, quick: 1,
			run: expiringLinks},
		{name: "API server unreachable 30 s during join", expect: "converge (join within --timeout 3m)", trials: 2, quick: 1,
			run: func(ctx context.Context, l *lab, t *trial) outcome { return apiOutage(ctx, l, t, 30*time.Second, "3m") }},
		{name: "API server unreachable past --timeout 45s", expect: "exit 6, next install converges", trials: 2, quick: 1,
			run: func(ctx context.Context, l *lab, t *trial) outcome { return apiOutage(ctx, l, t, 0, "45s") }},
		{name: "artifact cache full (16 MiB tmpfs on /var/cache/add2tkectl)", expect: "error names the dir; converges once freed", trials: 2, quick: 1,
			run: cacheFull},
		{name: "two installs at once (the second waits)", expect: "no interleaving; both exit 0", trials: 2, quick: 1,
			run: func(ctx context.Context, l *lab, t *trial) outcome { return concurrent(ctx, l, t, "install", "") }},
		{name: "two installs at once (the second --timeout 5s)", expect: "no interleaving; second fails naming the lock", trials: 1, quick: 1,
			run: func(ctx context.Context, l *lab, t *trial) outcome { return concurrent(ctx, l, t, "install", "5s") }},
		{name: "install during uninstall (install waits)", expect: "no interleaving; node back", trials: 2, quick: 1,
			run: func(ctx context.Context, l *lab, t *trial) outcome { return concurrent(ctx, l, t, "uninstall", "") }},
		{name: "uninstall -> install -> status cycles", expect: "healthy every time, host diff empty", trials: 20, quick: 3,
			locked: true, perStep: cycles},
	}
}

func pathsOf(a artifact) []string {
	var out []string
	for _, u := range a.URLs {
		out = append(out, "/"+strings.TrimPrefix(u, "/"))
	}
	return out
}

// baseline is a plain install: the reference for timings and bytes.
func baseline(ctx context.Context, l *lab, t *trial) outcome {
	code, res, r := l.install(ctx, t.bin, 6*time.Minute)
	if code != 0 {
		return outcome{kind: bad, note: fmt.Sprintf("install exited %d: %s", code, lastLine(r.stderr, r.err))}
	}
	var ph []string
	for _, p := range res.Phases {
		ph = append(ph, fmt.Sprintf("%s %.1fs", p.Name, p.DurationSeconds))
		l.phaseSeconds[p.Name] = p.DurationSeconds
	}
	if p := l.settled(ctx, t.bin); p != "" {
		return outcome{kind: bad, note: p}
	}
	return outcome{kind: converged, leftover: l.leftovers(ctx, afterSuccess), note: "phases: " + strings.Join(ph, ", ")}
}

// killAt kills install with SIGKILL as phase starts (frac < 0), or frac of
// the baseline's duration of the phase after it starts; then install again.
func killAt(ctx context.Context, l *lab, t *trial, phase string, frac float64) outcome {
	delay := 0.0
	if frac >= 0 {
		delay = frac * l.phaseSeconds[phase]
	}
	script := fmt.Sprintf(`
rm -f /root/faults-i.out /root/faults-i.err
%[1]s install --no-progress >/root/faults-i.out 2>/root/faults-i.err &
pid=$!
for i in $(seq 1 12000); do
  if grep -q '] %[2]s: ' /root/faults-i.err; then
    sleep %.3[3]f
    kill -0 $pid 2>/dev/null || { echo finished; exit 0; }
    kill -9 $pid
    echo "killed in $(grep -o '] [a-z]*: ' /root/faults-i.err | tail -1 | tr -d '] :')"
    exit 0
  fi
  kill -0 $pid 2>/dev/null || { echo "finished before %[2]s"; exit 0; }
  sleep 0.01
done
kill -9 $pid; echo timeout`, t.bin, phase, delay)
	r := l.exec(ctx, 5*time.Minute, nil, script)
	if strings.Contains(r.stdout, "finished") && frac > 0.01 {
		// This run was quicker than the baseline: again, earlier in the phase.
		bin, err := l.fresh(ctx, l.bundle)
		if err != nil {
			return outcome{kind: bad, note: err.Error()}
		}
		t.bin = bin
		return killAt(ctx, l, t, phase, frac/2)
	}
	where := fmt.Sprintf("%s+%.1fs", phase, delay)
	if !strings.Contains(r.stdout, "killed") {
		return outcome{kind: bad, note: fmt.Sprintf("not killed at %s: %s", where, lastLine(r.stdout+r.stderr, r.err))}
	}
	in := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.stdout), "killed in"))
	if p := l.converge(ctx, t.bin); p != "" {
		return outcome{kind: bad, note: fmt.Sprintf("killed at %s (in %s): %s", where, in, p)}
	}
	note := ""
	if frac >= 0 {
		note = fmt.Sprintf("killed at %s (in %s)", where, in)
	}
	return outcome{kind: converged, leftover: l.leftovers(ctx, afterSuccess), note: note}
}

// artifactFault runs install with faults on the artifact server: it
// converges, or exits 4 or 5 with nothing unverified or half-installed, and
// then an install without faults converges.
func artifactFault(faults func(*lab) []fault) func(context.Context, *lab, *trial) outcome {
	return func(ctx context.Context, l *lab, t *trial) outcome {
		if err := l.inject(ctx, faults(l)); err != nil {
			return outcome{kind: bad, note: err.Error()}
		}
		return l.underFault(ctx, t, t.bin, 4, 5)
	}
}

// underFault runs install under the faults in place and judges it; codes
// are the clean failures the fault may cause.
func (l *lab) underFault(ctx context.Context, t *trial, bin string, codes ...int) outcome {
	start := time.Now()
	code, res, r := l.install(ctx, bin, 6*time.Minute)
	took := time.Since(start).Round(100 * time.Millisecond)
	_ = l.clearFaults(ctx)
	if code == 0 {
		if p := l.settled(ctx, t.bin); p != "" {
			return outcome{kind: bad, note: "exit 0 under the fault, then: " + p}
		}
		return outcome{kind: converged, leftover: l.leftovers(ctx, afterSuccess), note: fmt.Sprintf("converged in %s", took)}
	}
	failed := failedPhase(res)
	for _, c := range codes {
		if code != c {
			continue
		}
		left := l.leftovers(ctx, failureKind(failed))
		if p := l.converge(ctx, t.bin); p != "" {
			return outcome{kind: bad, leftover: left, note: fmt.Sprintf("exit %d in %s, then the next install: %s", code, failed, p)}
		}
		left = append(left, l.leftovers(ctx, afterSuccess)...)
		return outcome{kind: cleanFail, leftover: left, note: fmt.Sprintf("exit %d in %s after %s: %s", code, failed, took, lastLine(r.stderr, r.err))}
	}
	return outcome{kind: bad, leftover: l.leftovers(ctx, afterFailure), note: fmt.Sprintf("exit %d in %s after %s: %s", code, failed, took, lastLine(r.stderr, r.err))}
}

func failureKind(failedPhase string) leftover {
	if failedPhase == "download" || failedPhase == "preflight" {
		return afterEarlyFailure
	}
	return afterFailure
}

func failedPhase(res installResult) string {
	for _, p := range res.Phases {
		if p.Status == "failed" {
			return p.Name
		}
	}
	return "?"
}

// expiringLinks: a manifest whose artifact links are valid for 15 s, served
// at 4 MiB/s with a reset every 16 MiB, so that a request after the expiry
// is refused as COS refuses it.
func expiringLinks(ctx context.Context, l *lab, t *trial) outcome {
	bundle, err := l.publish(ctx, "expiring", 15*time.Second)
	if err != nil {
		return outcome{kind: bad, note: err.Error()}
	}
	// beside the trial's bundle, which the recovery install uses
	bin, err := l.copyBundle(ctx, bundle, "/root/faults-expiring")
	if err != nil {
		return outcome{kind: bad, note: err.Error()}
	}
	var fs []fault
	for _, p := range l.objectPaths() {
		fs = append(fs, fault{Path: p, Rate: 4 * mib}, fault{Path: p, ResetEvery: 16 * mib})
	}
	if err := l.inject(ctx, fs); err != nil {
		return outcome{kind: bad, note: err.Error()}
	}
	return l.underFault(ctx, t, bin, 5, 4)
}

const blockAPI = "OUTPUT -d 10.77.0.1 -p tcp --dport 6443 -j DROP"

// apiOutage drops the host's packets to the API server once the join phase
// starts, for outage (0: until install exits), with install's --timeout.
func apiOutage(ctx context.Context, l *lab, t *trial, outage time.Duration, timeout string) outcome {
	hold := "while kill -0 $pid 2>/dev/null; do sleep 0.2; done"
	if outage > 0 {
		hold = fmt.Sprintf("sleep %d", int(outage.Seconds()))
	}
	script := fmt.Sprintf(`
rm -f /root/faults-i.out /root/faults-i.err
%s install -o json --no-progress --timeout %s >/root/faults-i.out 2>/root/faults-i.err &
pid=$!
for i in $(seq 1 12000); do
  grep -q '] join: ' /root/faults-i.err && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.01
done
if kill -0 $pid 2>/dev/null; then
  iptables -I %s; echo blocked >&2
  %s
  iptables -D %s; echo unblocked >&2
fi
wait $pid; code=$?
cat /root/faults-i.out
exit $code`, t.bin, timeout, blockAPI, hold, blockAPI)
	start := time.Now()
	r := l.exec(ctx, 8*time.Minute, nil, script)
	took := time.Since(start).Round(100 * time.Millisecond)
	if !strings.Contains(r.stderr, "blocked") {
		return outcome{kind: bad, note: "install ended before the join phase: " + lastLine(r.stderr, r.err)}
	}
	errLine := lastLine(l.exec(ctx, time.Minute, nil, "cat /root/faults-i.err").stdout, nil)
	switch {
	case r.code == 0:
		if p := l.settled(ctx, t.bin); p != "" {
			return outcome{kind: bad, note: "exit 0, then: " + p}
		}
		return outcome{kind: converged, leftover: l.leftovers(ctx, afterSuccess), note: fmt.Sprintf("exit 0 after %s", took)}
	case r.code == 6 && outage == 0:
		if p := l.converge(ctx, t.bin); p != "" {
			return outcome{kind: bad, note: "exit 6, then the next install: " + p}
		}
		return outcome{kind: cleanFail, leftover: l.leftovers(ctx, afterSuccess), note: fmt.Sprintf("exit 6 after %s: %s", took, errLine)}
	}
	return outcome{kind: bad, note: fmt.Sprintf("exit %d after %s: %s", r.code, took, errLine)}
}

// cacheFull puts the artifact cache on a 16 MiB tmpfs: install must fail
// naming the directory; after the tmpfs grows (space freed, the partial
// state kept), install completes.
func cacheFull(ctx context.Context, l *lab, t *trial) outcome {
	const dir = "/var/cache/add2tkectl"
	if r := l.exec(ctx, time.Minute, nil, "mkdir -p "+dir+" && mount -t tmpfs -o size=16m,mode=0700 faults-full "+dir); r.code != 0 {
		return outcome{kind: bad, note: "mount tmpfs: " + lastLine(r.stderr, r.err)}
	}
	code, res, r := l.install(ctx, t.bin, 6*time.Minute)
	if code == 0 {
		return outcome{kind: bad, note: "install exited 0 with a 16 MiB cache"}
	}
	failed := failedPhase(res)
	left := l.leftovers(ctx, failureKind(failed))
	named := strings.Contains(r.stderr, dir)
	if g := l.exec(ctx, time.Minute, nil, "mount -o remount,size=4g "+dir); g.code != 0 {
		return outcome{kind: bad, note: "grow tmpfs: " + lastLine(g.stderr, g.err)}
	}
	msg := fmt.Sprintf("exit %d in %s: %s", code, failed, lastLine(r.stderr, r.err))
	if !named {
		return outcome{kind: bad, leftover: left, note: "the error does not name " + dir + ": " + msg}
	}
	if p := l.converge(ctx, t.bin); p != "" {
		return outcome{kind: bad, leftover: left, note: msg + "; then after freeing space: " + p}
	}
	return outcome{kind: cleanFail, leftover: append(left, l.leftovers(ctx, afterSuccess)...), note: msg}
}

// concurrent runs first (install, or uninstall of an installed node) and,
// once it holds the run lock, an install (with --timeout second when set).
// Their phase lines, timestamped, must not interleave.
func concurrent(ctx context.Context, l *lab, t *trial, first, timeout string) outcome {
	if first == "uninstall" {
		if p := l.converge(ctx, t.bin); p != "" {
			return outcome{kind: bad, note: "setup install: " + p}
		}
	}
	secondArgs := ""
	if timeout != "" {
		secondArgs = "--timeout " + timeout
	}
	script := fmt.Sprintf(`
cd /root && rm -f faults-a.* faults-b.*
stamp() { while IFS= read -r line; do echo "$(date +%%s.%%N) $line"; done; }
%[1]s %[2]s -o json --no-progress > faults-a.out 2> >(stamp > faults-a.err) & a=$!
for i in $(seq 1 3000); do grep -q '] ' faults-a.err 2>/dev/null && break; sleep 0.01; done
%[1]s install -o json --no-progress %[3]s > faults-b.out 2> >(stamp > faults-b.err) & b=$!
wait $a; ea=$?
wait $b; eb=$?
sleep 0.2
echo "$ea $eb"
# the last phase line of the first run and the first of the second
echo "$(grep '] ' faults-a.err | tail -1 | cut -d' ' -f1) $(grep '] ' faults-b.err | head -1 | cut -d' ' -f1)"
`, t.bin, first, secondArgs)
	r := l.exec(ctx, 12*time.Minute, nil, script)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.err != nil || len(lines) < 2 {
		return outcome{kind: bad, note: "could not run: " + lastLine(r.stderr+r.stdout, r.err)}
	}
	var ea, eb int
	var aLast, bFirst float64
	fmt.Sscan(lines[0], &ea, &eb)
	fmt.Sscan(lines[1], &aLast, &bFirst)
	bErr := l.exec(ctx, time.Minute, nil, "cut -d' ' -f2- /root/faults-b.err").stdout
	note := fmt.Sprintf("%s exit %d, install exit %d", first, ea, eb)
	if bFirst != 0 && aLast != 0 && bFirst < aLast {
		return outcome{kind: bad, note: fmt.Sprintf("interleaved: the install's first phase %.3fs before the %s's last; %s", aLast-bFirst, first, note)}
	}
	if ea != 0 {
		return outcome{kind: bad, note: note + ": " + lastLine(l.exec(ctx, time.Minute, nil, "cat /root/faults-a.err").stdout, nil)}
	}
	if timeout != "" {
		if eb == 0 || !strings.Contains(bErr, "another add2tkectl run holds") {
			return outcome{kind: bad, note: note + ": the second did not fail on the lock: " + lastLine(bErr, nil)}
		}
		if p := l.settled(ctx, t.bin); p != "" {
			return outcome{kind: bad, note: note + "; then: " + p}
		}
		return outcome{kind: cleanFail, leftover: l.leftovers(ctx, afterSuccess), note: note + ": " + lastLine(bErr, nil)}
	}
	if eb != 0 {
		return outcome{kind: bad, note: note + ": " + lastLine(bErr, nil)}
	}
	if p := l.settled(ctx, t.bin); p != "" {
		return outcome{kind: bad, note: note + "; then: " + p}
	}
	return outcome{kind: converged, leftover: l.leftovers(ctx, afterSuccess)}
}

// cycles: snapshot the fresh host, install, then per cycle uninstall (the
// host must equal the snapshot), install, status (healthy).
func cycles(ctx context.Context, l *lab, t *trial, n int) []outcome {
	fail := func(msg string) []outcome { return []outcome{{kind: bad, note: msg}} }
	before, err := l.snapshot(ctx)
	if err != nil {
		return fail(err.Error())
	}
	if p := l.converge(ctx, t.bin); p != "" {
		return fail("first install: " + p)
	}
	var out []outcome
	for i := 0; i < n && ctx.Err() == nil; i++ {
		var problems []string
		if r := l.exec(ctx, 5*time.Minute, nil, t.bin+" uninstall -o json --no-progress"); r.code != 0 {
			problems = append(problems, fmt.Sprintf("uninstall exit %d: %s", r.code, lastLine(r.stderr, r.err)))
		}
		after, err := l.snapshot(ctx)
		if err != nil {
			problems = append(problems, err.Error())
		} else if d := diff(before, after); len(d) > 0 {
			problems = append(problems, fmt.Sprintf("host diff %d lines, first: %s", len(d), d[0]))
		}
		if code, _, r := l.install(ctx, t.bin, 6*time.Minute); code != 0 {
			problems = append(problems, fmt.Sprintf("install exit %d: %s", code, lastLine(r.stderr, r.err)))
		} else if _, err := l.waitPoolNode(ctx, 3*time.Minute); err != nil {
			problems = append(problems, err.Error())
		}
		if p := l.waitStatus(ctx, t.bin, time.Minute); p != "" {
			problems = append(problems, p)
		}
		o := outcome{kind: converged, leftover: l.leftovers(ctx, afterSuccess)}
		if len(problems) > 0 {
			o = outcome{kind: bad, leftover: o.leftover, note: fmt.Sprintf("cycle %d: %s", i+1, strings.Join(problems, "; "))}
		}
		out = append(out, o)
	}
	return out
}

// waitStatus waits for `status` to exit 0 (healthy).
func (l *lab) waitStatus(ctx context.Context, bin string, within time.Duration) string {
	deadline := time.Now().Add(within)
	for {
		r := l.exec(ctx, time.Minute, nil, bin+" status >/dev/null")
		if r.code == 0 {
			return ""
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Sprintf("status exit %d after %s: %s", r.code, within, lastLine(r.stderr, r.err))
		}
		time.Sleep(2 * time.Second)
	}
}
