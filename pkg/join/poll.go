package join

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
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

// pollNode is poll that also polls at once when the Node changes: a watch
// of the Node wakes it, so registration and Ready are seen as the API
// server stores them, not up to a pause (250 ms) later. The watch only
// wakes: every decision is still cond's GET, and a watch refused or cut
// leaves the pauses alone to bound the wait.
func pollNode(ctx context.Context, b Backoff, c kubeclient.Interface, name string, cond func(context.Context) (bool, error)) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	wake := make(chan struct{}, 1)
	go watchNode(ctx, c, name, wake)
	return wait.PollOrWake(ctx, orDefault(b), wake, cond)
}

// watchNode sends on wake (without blocking) for each event of the Node
// name until ctx ends, watching again a second after a failure.
func watchNode(ctx context.Context, c kubeclient.Interface, name string, wake chan<- struct{}) {
	for ctx.Err() == nil {
		w, err := c.Nodes().Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
		if err == nil {
			for range w.ResultChan() {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
			w.Stop()
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
