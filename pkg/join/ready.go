package join

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// heartbeatResolution is how coarse the condition times the API server
// keeps are: the kubelet sends them in RFC 3339 without fractions, so a
// heartbeat sent in the second the kubelet started reads as up to a second
// before its start.
const heartbeatResolution = time.Second

// readyCondition returns whether the Node is Ready and, if not, why.
func readyCondition(n *corev1.Node) (bool, string) {
	c := findReady(n)
	if c == nil {
		return false, "the kubelet has not reported a Ready condition yet"
	}
	if c.Status == corev1.ConditionTrue {
		return true, ""
	}
	switch {
	case c.Reason != "" && c.Message != "":
		return false, c.Reason + ": " + c.Message
	case c.Message != "":
		return false, c.Message
	case c.Reason != "":
		return false, c.Reason
	}
	return false, "Ready is " + string(c.Status)
}

func findReady(n *corev1.Node) *corev1.NodeCondition {
	for i := range n.Status.Conditions {
		if n.Status.Conditions[i].Type == corev1.NodeReady {
			return &n.Status.Conditions[i]
		}
	}
	return nil
}

// readyReportedAt is when the kubelet last wrote the Ready condition: its
// heartbeat, or its transition when a kubelet sent no heartbeat. Both are
// the kubelet's own clock, this host's.
func readyReportedAt(n *corev1.Node) time.Time {
	c := findReady(n)
	if c == nil {
		return time.Time{}
	}
	t := c.LastHeartbeatTime.Time
	if c.LastTransitionTime.After(t) {
		t = c.LastTransitionTime.Time
	}
	return t
}

// ReportedSince reports whether a condition written at reportedAt can have
// come from a kubelet that started at started (both this host's clock).
func ReportedSince(reportedAt, started time.Time) bool {
	return !reportedAt.Before(started.Truncate(heartbeatResolution))
}

// ReadyFrom is readyCondition that accepts a Ready=True only when the
// kubelet that started at started reported it. A Node outlives its kubelet
// (uninstall cannot delete it, a restart keeps it), so right after the
// kubelet starts, its Ready=True is the previous kubelet's: the new one has
// yet to say whether its runtime and network are up. A zero started accepts
// any Ready condition.
func ReadyFrom(n *corev1.Node, started time.Time) (bool, string) {
	ready, why := readyCondition(n)
	if !ready || started.IsZero() {
		return ready, why
	}
	if at := readyReportedAt(n); !ReportedSince(at, started) {
		return false, fmt.Sprintf("Ready=True is from an earlier kubelet (reported %s; this kubelet started %s): waiting for this kubelet's own status",
			at.UTC().Format(time.RFC3339), started.UTC().Format(time.RFC3339))
	}
	return true, ""
}

// kubeletStarted asks when the running kubelet started; why is set when
// that cannot be told or the kubelet does not run. Without
// Deps.KubeletStarted both are empty.
func (d Deps) kubeletStarted(ctx context.Context) (started time.Time, why string) {
	if d.KubeletStarted == nil {
		return time.Time{}, ""
	}
	t, err := d.KubeletStarted(ctx)
	switch {
	case err != nil:
		return time.Time{}, fmt.Sprintf("cannot tell when the kubelet started: %v", err)
	case t.IsZero():
		return time.Time{}, "the kubelet is not running (systemctl status kubelet)"
	}
	return t, ""
}

// nodeReady is whether the running kubelet reports the Node Ready, and
// if not, why.
func (d Deps) nodeReady(ctx context.Context, n *corev1.Node) (bool, string) {
	started, why := d.kubeletStarted(ctx)
	if why != "" {
		return false, why
	}
	return ReadyFrom(n, started)
}
