package join

import (
	"context"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/wait"
)

// Backoff spaces the polls of the API and the files while waiting.
type Backoff = wait.Pauses

// DefaultBackoff answers within a quarter of a second of the kubelet's
// bootstrap, registration and Ready (warm control plane: Ready in ~1 s):
// at most 4 requests a second for the first 20 s of a wait, then growing to
// one every 3 s, so a fleet whose nodes stall does not hammer the API server.
var DefaultBackoff = Backoff{First: 50 * time.Millisecond, Fast: 250 * time.Millisecond, FastFor: 20 * time.Second, Max: 3 * time.Second}

func orDefault(b Backoff) Backoff {
	if b == (Backoff{}) {
		return DefaultBackoff
	}
	return b
}

// poll calls cond until it reports done or an error, pausing as b says; it
// returns ctx's error once the context ends first.
func poll(ctx context.Context, b Backoff, cond func(context.Context) (bool, error)) error {
	b = orDefault(b)
	start := time.Now()
	delay := b.Initial()
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		done, err := cond(ctx)
		if err != nil || done {
			return err
		}
		timer.Reset(delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		delay = b.Next(delay, time.Since(start))
	}
}
