// Package wait waits for a service on this host to answer: the one backoff
// loop behind containerd's, dockerd's and the kubelet's readiness waits.
package wait

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// attemptTimeout bounds one attempt: a local socket or port answers in
// milliseconds, or is not up yet.
const attemptTimeout = 2 * time.Second

// Pauses is how a wait spaces its attempts: First, then each half as long
// again, up to Fast while the wait is younger than FastFor (what is waited
// for usually comes within seconds, and an answer that comes just after an
// attempt is late by at most Fast), then up to Max (a wait that stalls does
// not keep hammering what it asks).
type Pauses struct {
	First   time.Duration
	Fast    time.Duration
	FastFor time.Duration
	Max     time.Duration
}

// LocalPauses are the pauses of the waits for a local service: asking a
// socket costs microseconds, so the attempts stay close.
var LocalPauses = Pauses{First: 50 * time.Millisecond, Fast: 200 * time.Millisecond, FastFor: 30 * time.Second, Max: 2 * time.Second}

// Next is the pause after pause, once the wait has lasted waited. Zero
// fields take LocalPauses' values, except that a Max without a Fast is both
// (no fast start); Fast and Max are at least First.
func (p Pauses) Next(pause, waited time.Duration) time.Duration {
	p = p.orDefault()
	limit := p.Max
	if waited < p.FastFor {
		limit = p.Fast
	}
	return max(min(pause+pause/2, limit), p.First)
}

// Initial is the first pause.
func (p Pauses) Initial() time.Duration { return p.orDefault().First }

func (p Pauses) orDefault() Pauses {
	d := LocalPauses
	if p.First <= 0 {
		p.First = d.First
	}
	switch {
	case p.Fast <= 0 && p.Max <= 0:
		p.Fast, p.Max = d.Fast, d.Max
	case p.Fast <= 0:
		p.Fast = p.Max
	case p.Max <= 0:
		p.Max = max(d.Max, p.Fast)
	}
	if p.FastFor <= 0 {
		p.FastFor = d.FastFor
	}
	p.Fast = max(p.Fast, p.First)
	p.Max = max(p.Max, p.Fast)
	return p
}

// Poll calls cond until it reports done or an error, pausing as p says;
// it returns ctx's error once the context ends first. It is the one wait
// loop: Answer's and the join's.
func Poll(ctx context.Context, p Pauses, cond func(context.Context) (bool, error)) error {
	return PollOrWake(ctx, p, nil, cond)
}

// PollOrWake is Poll whose pause also ends when wake receives (a watch saw
// what is waited for change), so an answer is not late by up to a pause;
// the pauses still bound the wait when wake stays quiet (a watch refused
// or cut). A nil wake never receives.
func PollOrWake(ctx context.Context, p Pauses, wake <-chan struct{}, cond func(context.Context) (bool, error)) error {
	start := time.Now()
	pause := p.Initial()
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for {
		done, err := cond(ctx)
		if err != nil || done {
			return err
		}
		timer.Reset(pause)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		case <-wake:
			timer.Stop() // no stale tick after Stop since Go 1.23
		}
		pause = p.Next(pause, time.Since(start))
	}
}

// Answer calls try until it succeeds or ctx ends, each attempt bounded by
// two seconds, pausing as LocalPauses says. firstFailure, when set, is
// called once, after the first failed attempt (to say what is waited for).
// When ctx ends first, Answer returns the last attempt's error and ctx's.
func Answer(ctx context.Context, try func(context.Context) error, firstFailure func(error)) (last, err error) {
	attempt := 0
	err = Poll(ctx, LocalPauses, func(ctx context.Context) (bool, error) {
		attempt++
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		last = try(actx)
		cancel()
		if last != nil && attempt == 1 && firstFailure != nil {
			firstFailure(last)
		}
		return last == nil, nil
	})
	return last, err
}

// Says asks url once with c and reports whether the answer is 200 with the
// body want (a health endpoint's "ok"); name goes in the error.
func Says(ctx context.Context, c *http.Client, name, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if got := strings.TrimSpace(string(b)); resp.StatusCode != http.StatusOK || got != want {
		return fmt.Errorf("%s: %s %q", name, resp.Status, got)
	}
	return nil
}

// Sleep pauses for d, or less when ctx ends first (then it returns ctx's
// error).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
