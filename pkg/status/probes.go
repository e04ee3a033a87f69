package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/join"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/userscript"
)

// probeUnits asks systemd for the state of each unit install recorded.
func probeUnits(ctx context.Context, connect func(context.Context) (systemd.Manager, error), names []string) []Unit {
	out := make([]Unit, 0, len(names))
	if len(names) == 0 {
		return out
	}
	var m systemd.Manager
	err := errors.New("no service manager")
	if connect != nil {
		m, err = connect(ctx)
	}
	if err == nil {
		defer m.Close()
	}
	for _, n := range names {
		u := Unit{Name: n}
		if err != nil {
			u.Error = err.Error()
			out = append(out, u)
			continue
		}
		st, serr := m.Status(ctx, n)
		if serr != nil {
			u.Error = serr.Error()
			out = append(out, u)
			continue
		}
		u.LoadState, u.ActiveState, u.SubState, u.UnitFileState = st.LoadState, st.ActiveState, st.SubState, st.UnitFileState
		u.Active, u.Enabled = st.Active(), st.Enabled()
		if u.Active && !st.ActiveSince.IsZero() {
			t := st.ActiveSince.UTC()
			u.ActiveSince = &t
		}
		out = append(out, u)
	}
	return out
}

// probeRuntime asks the runtime install set up whether it answers.
func probeRuntime(ctx context.Context, root host.Root, r component.Runtime, kind string) Runtime {
	if r == nil {
		return Runtime{Kind: kind, Error: fmt.Sprintf("no runtime of kind %q is known", kind)}
	}
	p := r.Probe(ctx, root)
	return Runtime{Kind: kind, Healthy: p.Healthy, Version: p.Version, Socket: p.Endpoint, Error: p.Error}
}

// probeAgent asks the node agent for its health and its binary's version.
func probeAgent(ctx context.Context, root host.Root, a component.Agent) Kubelet {
	p := a.Probe(ctx, root)
	return Kubelet{Healthy: p.Healthy, HealthzURL: p.Endpoint, Version: p.Version, Error: p.Error}
}

// probeNode reads the Node with the node's own credentials, in one GET
// bounded by timeout.
func probeNode(ctx context.Context, root host.Root, name string, timeout time.Duration, factory join.ClientFactory) Node {
	st, err := join.Status(ctx, root, name, timeout, factory)
	n := Node{Joined: true}
	if errors.Is(err, join.ErrNotJoined) {
		n.Joined, n.Error = false, err.Error()
		return n
	}
	if err != nil {
		// An answer with an HTTP status (401, 403) is a reachable server.
		var status apierrors.APIStatus
		n.APIReachable = errors.As(err, &status)
		n.Error = err.Error()
		return n
	}
	n.APIReachable = true
	n.Registered, n.Ready, n.Reason = st.Registered, st.Ready, st.Reason
	n.Unschedulable, n.Labels, n.Taints = st.Unschedulable, st.Labels, st.Taints
	n.InternalIP, n.KubeletVersion = st.InternalIP, st.KubeletVersion
	n.readyReportedAt = st.ReadyReportedAt
	return n
}

// probeUserScript reads the user script's last result (last-run.json) and
// compares it with the configured script.
func probeUserScript(root host.Root, script string) UserScript {
	u := UserScript{Configured: script != "", State: ScriptNone}
	lr, ok, err := userscript.LastRun(root)
	switch {
	case err != nil:
		u.Error = err.Error()
		return u
	case !ok:
		if u.Configured {
			u.State = ScriptPending
		}
		return u
	}
	t := lr.Time.UTC()
	code := lr.ExitCode
	u.LastRun, u.ExitCode, u.Attempts, u.TimedOut = &t, &code, lr.Attempts, lr.TimedOut
	u.Duration, u.SHA256, u.Succeeded, u.LogPath = lr.Duration, lr.SHA256, lr.Succeeded, lr.LogPath
	if u.LogPath == "" {
		u.LogPath = userscript.LogPath
	}
	switch {
	case !u.Configured:
	case lr.SHA256 != "" && lr.SHA256 != userscript.SHA256(script):
		u.State = ScriptChanged
	case lr.Succeeded:
		u.State = ScriptSucceeded
	default:
		u.State = ScriptFailed
	}
	return u
}

// agentUnits are the node agent's units.
func agentUnits(a component.Agent) map[string]bool {
	out := map[string]bool{}
	for _, u := range a.Footprint().Units {
		if u.Stop == component.StopAgent {
			out[u.Name] = true
		}
	}
	return out
}

// readyFromRunningAgent takes back a Ready that the running kubelet did
// not report: a Node outlives its kubelet (uninstall cannot delete it), so
// right after a new kubelet starts, the Node still shows the previous
// one's Ready=True. The kubelet unit's start and the condition's time are
// both this host's clock.
func readyFromRunningAgent(n *Node, units []Unit, agent map[string]bool) {
	if !n.Ready || n.readyReportedAt.IsZero() {
		return
	}
	for _, u := range units {
		if !agent[u.Name] || u.ActiveSince == nil {
			continue
		}
		if !join.ReportedSince(n.readyReportedAt, *u.ActiveSince) {
			n.Ready = false
			n.Reason = fmt.Sprintf("Ready=True is from an earlier kubelet (reported %s, before this kubelet started at %s)",
				n.readyReportedAt.UTC().Format(time.RFC3339), u.ActiveSince.UTC().Format(time.RFC3339))
		}
	}
}
