package join

import (
	"context"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/wait"
)

// Backoff spaces the polls of the API and the files while waiting.
type Backoff = wait.Pauses

// DefaultBackoff answers within a quarter of a second of the kubelet's
// bootstrap, registration and Ready (Ready 2.2-2.4 s after the kubelet
// starts on a warm control plane, make bench):
// at most 4 requests a second for the first 20 s of a wait, then growing to
// one every 3 s, so a fleet whose nodes stall does not hammer the API server.
var DefaultBackoff = Backoff{First: 50 * time.Millisecond, Fast: 250 * time.Millisecond, FastFor: 20 * time.Second, Max: 3 * time.Second}

func orDefault(b Backoff) Backoff {
	if b == (Backoff{}) {
		return DefaultBackoff
	}
	return b
}

// poll is wait.Poll with the join's pauses (DefaultBackoff when b is zero).
func poll(ctx context.Context, b Backoff, cond func(context.Context) (bool, error)) error {
	return wait.Poll(ctx, orDefault(b), cond)
}
