package join

import (
	"context"
	"time"
)

// Backoff spaces the polls of the API and the files while waiting.
type Backoff struct {
	Initial time.Duration // first pause
	Max     time.Duration // pauses grow by half up to this
}

// DefaultBackoff answers within a fraction of a second when the kubelet is
// quick (warm control plane: Ready in ~1 s) without hammering a slow one.
var DefaultBackoff = Backoff{Initial: 100 * time.Millisecond, Max: 3 * time.Second}

func (b Backoff) orDefault() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoff.Initial
	}
	if b.Max < b.Initial {
		b.Max = max(DefaultBackoff.Max, b.Initial)
	}
	return b
}

// poll calls cond until it reports done or an error, pausing with growing
// intervals; it returns ctx's error once the context ends first.
func poll(ctx context.Context, b Backoff, cond func(context.Context) (bool, error)) error {
	b = b.orDefault()
	delay := b.Initial
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
		delay = min(delay+delay/2, b.Max)
	}
}
