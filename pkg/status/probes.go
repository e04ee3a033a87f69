package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/join"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/containerd"
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

// probeRuntime asks the runtime on its socket for its version, which
// proves it answers.
func probeRuntime(ctx context.Context, root host.Root, kind string) Runtime {
	r := Runtime{Kind: kind}
	var err error
	switch kind {
	case config.RuntimeDocker:
		r.Socket = paths.DockerSocket
		r.Version, err = dockerVersion(ctx, root.Path(paths.DockerSocket))
	default:
		r.Socket = paths.ContainerdSocket
		sock := root.Path(paths.ContainerdSocket)
		// containerd's dialer retries a refused socket until its timeout
		// (it waits for a starting daemon); status wants the answer now.
		if err = dialUnix(ctx, sock); err == nil {
			r.Version, err = containerd.Version(ctx, sock)
		}
	}
	if err != nil {
		r.Error = err.Error()
		r.Version = ""
		return r
	}
	r.Healthy = true
	return r
}

// dialUnix checks that something listens on a unix socket.
func dialUnix(ctx context.Context, socket string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return fmt.Errorf("containerd does not answer on %s: %w", socket, err)
	}
	return c.Close()
}

// dockerVersion asks dockerd's /version on socket.
func dockerVersion(ctx context.Context, socket string) (string, error) {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/version", nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", fmt.Errorf("dockerd on %s: %w", socket, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("dockerd /version: %s", resp.Status)
	}
	var v struct{ Version string }
	if err := json.Unmarshal(b, &v); err != nil || v.Version == "" {
		return "", fmt.Errorf("dockerd /version: no version in the answer")
	}
	return v.Version, nil
}

// probeKubelet asks the kubelet's /healthz once.
func probeKubelet(ctx context.Context, url string) Kubelet {
	k := Kubelet{HealthzURL: url}
	if err := kubelet.Healthy(ctx, url); err != nil {
		k.Error = err.Error()
		return k
	}
	k.Healthy = true
	return k
}

// execVersion runs `binary --version` ("Kubernetes v1.35.4") and returns
// the version word.
func execVersion(ctx context.Context, binary string) (string, error) {
	if _, err := os.Stat(binary); err != nil {
		return "", fmt.Errorf("kubelet binary: %w", err)
	}
	out, err := exec.CommandContext(ctx, binary, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", binary, err)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return "", fmt.Errorf("%s --version printed nothing", binary)
	}
	return f[len(f)-1], nil
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

// readyFromRunningKubelet takes back a Ready that the running kubelet did
// not report: a Node outlives its kubelet (uninstall cannot delete it), so
// right after a new kubelet starts, the Node still shows the previous
// one's Ready=True. The kubelet unit's start and the condition's time are
// both this host's clock.
func readyFromRunningKubelet(n *Node, units []Unit) {
	if !n.Ready || n.readyReportedAt.IsZero() {
		return
	}
	for _, u := range units {
		if u.Name != kubelet.UnitName || u.ActiveSince == nil {
			continue
		}
		if !join.ReportedSince(n.readyReportedAt, *u.ActiveSince) {
			n.Ready = false
			n.Reason = fmt.Sprintf("Ready=True is from an earlier kubelet (reported %s, before this kubelet started at %s)",
				n.readyReportedAt.UTC().Format(time.RFC3339), u.ActiveSince.UTC().Format(time.RFC3339))
		}
	}
}
