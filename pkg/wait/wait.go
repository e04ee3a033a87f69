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

const (
	// attemptTimeout bounds one attempt: a local socket or port answers
	// in milliseconds, or is not up yet.
	attemptTimeout = 2 * time.Second
	// maxPause caps the pauses between attempts.
	maxPause = 2 * time.Second
)

// Answer calls try until it succeeds or ctx ends, each attempt bounded by
// two seconds, pausing first and then twice as long each time, up to two
// seconds. firstFailure, when set, is called once, after the first failed
// attempt (to say what is waited for). When ctx ends first, Answer returns
// the last attempt's error and ctx's.
func Answer(ctx context.Context, first time.Duration, try func(context.Context) error, firstFailure func(error)) (last, err error) {
	pause := first
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		last = try(actx)
		cancel()
		if last == nil {
			return nil, nil
		}
		if attempt == 1 && firstFailure != nil {
			firstFailure(last)
		}
		timer.Reset(pause)
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-timer.C:
		}
		pause = min(2*pause, maxPause)
	}
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
