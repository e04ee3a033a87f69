// Package status tells whether this node is healthy, in one call: the
// install phases per the state journal, the units install put on the host
// (systemd over D-Bus), the container runtime and the kubelet answering,
// the Node as the API server shows it to the node, the user script's last
// run, and the drift between the configuration and the host. Every probe
// runs at once under a short timeout, so status is fast and still reports
// the local part when the API server does not answer.
package status

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/components"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/firstboot"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/join"
	"github.com/add2tkectl/add2tkectl/pkg/logging"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// Default timeouts of the probes: the API server is a network hop away,
// everything else is on this host.
const (
	DefaultAPITimeout   = 2 * time.Second
	DefaultLocalTimeout = 1 * time.Second
)

// Deps is what status needs, passed in explicitly so that a test can put
// a fake service manager, an httptest kubelet or a fake API client there.
type Deps struct {
	Root host.Root
	// Config is the effective configuration; drift is measured against it.
	Config *config.NodePoolJoin
	// NodeName is the name the kubelet registers.
	NodeName string
	// PhaseNames are the install phases in their order.
	PhaseNames []string
	Log        logrus.FieldLogger

	// Systemd connects to the service manager.
	Systemd func(ctx context.Context) (systemd.Manager, error)
	// NewNodeClient builds the API client from the node's kubeconfig; nil
	// means join.NewClient.
	NewNodeClient join.ClientFactory
	// Components are the node's parts, asked for their reports; the zero
	// value means components.Default().
	Components component.Set

	// APITimeout bounds the GET of the Node; LocalTimeout every local probe.
	APITimeout   time.Duration
	LocalTimeout time.Duration
}

func (d *Deps) defaults() {
	if d.Components.Agent == nil {
		d.Components = components.Default()
	}
	if d.APITimeout <= 0 {
		d.APITimeout = DefaultAPITimeout
	}
	if d.LocalTimeout <= 0 {
		d.LocalTimeout = DefaultLocalTimeout
	}
	if d.Log == nil {
		d.Log = logging.Discard()
	}
}

// NotInstalledError is a host where install never ran. The CLI exits 1.
type NotInstalledError struct{ Journal string }

func (e *NotInstalledError) Error() string {
	return fmt.Sprintf("not installed: no install has run on this host (no state journal at %s); run install to join it", e.Journal)
}

// DegradedError is a node that is installed but not healthy; Problems says
// why. The CLI exits 1.
type DegradedError struct{ Problems []string }

func (e *DegradedError) Error() string {
	return "degraded: " + strings.Join(e.Problems, "; ") +
		" (the status report says more; `journalctl -u <unit>` tells why a service fails; install converges drift)"
}

// Gather probes the host and returns its report. The error is a
// *NotInstalledError or a *DegradedError when the node is not healthy (the
// report is then complete and worth printing), or another error when the
// state journal cannot be read (the report is nil).
func Gather(ctx context.Context, d Deps) (*Report, error) {
	d.defaults()
	j, err := phase.LoadJournal(d.Root.Dir)
	if err != nil {
		return nil, err
	}
	rep := &Report{NodeName: d.NodeName, Problems: []string{}, Units: []Unit{}, FirstBoot: firstboot.Report(d.Root.Dir)}
	if d.Config != nil {
		rep.Cluster, rep.NodePool = d.Config.Cluster.ID, d.Config.NodePool.ID
	}
	if len(j.Phases) == 0 {
		rep.Install = Install{State: InstallNotInstalled, Phases: []Phase{}}
		rep.Problems = append(rep.Problems, "not installed")
		rep.UserScript = UserScript{State: ScriptNone}
		return rep, &NotInstalledError{Journal: paths.JournalPath}
	}
	rep.Installed = true
	values := j.Values()
	kind := installedRuntime(values, d.Components, d.Config)

	// Every probe at once; each writes only its own result.
	var (
		wg       sync.WaitGroup
		units    []Unit
		rt       Runtime
		kl       Kubelet
		node     Node
		files    []FileDrift
		filesErr error
	)
	local := func(f func(ctx context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, d.LocalTimeout)
			defer cancel()
			f(ctx)
		}()
	}
	local(func(ctx context.Context) { units = probeUnits(ctx, d.Systemd, j.Units()) })
	local(func(ctx context.Context) { rt = probeRuntime(ctx, d.Root, d.Components.Runtime(kind), kind) })
	local(func(ctx context.Context) { kl = probeAgent(ctx, d.Root, d.Components.Agent) })
	wg.Add(1)
	go func() {
		defer wg.Done()
		node = probeNode(ctx, d.Root, d.NodeName, d.APITimeout, d.NewNodeClient)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Hashing is bounded by the API timeout, the longest probe: the
		// stamps spare it the large binaries in the common case.
		ctx, cancel := context.WithTimeout(ctx, d.APITimeout)
		defer cancel()
		files, filesErr = fileDrift(ctx, d.Root, j.Files())
	}()
	wg.Wait()

	rep.Install = installState(j, d.PhaseNames)
	rep.Units = units
	rep.Runtime = rt
	rep.Kubelet = kl
	readyFromRunningAgent(&node, units, agentUnits(d.Components.Agent))
	rep.Node = node
	script := ""
	if d.Config != nil {
		script = d.Config.NodePool.UserScript
	}
	rep.UserScript = probeUserScript(d.Root, script)

	rep.Drift.Files = files
	if filesErr != nil {
		rep.Drift.Unchecked = append(rep.Drift.Unchecked, "files ("+filesErr.Error()+")")
	}
	if d.Config != nil {
		rep.Drift.Versions = versionDrift(d.Config, kind, rt, d.Components.Agent.Name(), kl.Version, node.KubeletVersion)
		if !node.Registered {
			rep.Drift.Unchecked = append(rep.Drift.Unchecked, "labels", "taints")
		} else {
			rep.Drift.Labels = labelDrift(node.Labels, d.Config.NodePool.Labels, factList(values, join.KeyLabels))
			rep.Drift.Taints = taintDrift(node.Taints, d.Config.NodePool.Taints, factList(values, join.KeyTaints))
		}
		if rt.Version == "" {
			rep.Drift.Unchecked = append(rep.Drift.Unchecked, "runtime version")
		}
		if kl.Version == "" {
			rep.Drift.Unchecked = append(rep.Drift.Unchecked, "kubelet version")
		}
	}
	rep.Problems = problems(rep)
	rep.Healthy = len(rep.Problems) == 0
	redactReport(rep, secretsOf(d.Config))
	d.Log.WithFields(logrus.Fields{"healthy": rep.Healthy, "problems": len(rep.Problems)}).Debug("status gathered")
	if !rep.Healthy {
		return rep, &DegradedError{Problems: rep.Problems}
	}
	return rep, nil
}

// installedRuntime is the runtime the journal says install put on the
// host, or the configured one when the runtime phase has not run.
func installedRuntime(values map[string]string, set component.Set, c *config.NodePoolJoin) string {
	for _, r := range set.Runtimes {
		if _, ok := values[r.Footprint().VersionFact]; ok {
			return r.Kind()
		}
	}
	if c != nil {
		return c.NodePool.Runtime.Kind
	}
	return config.RuntimeContainerd
}

// installState summarises the journal: each install phase in order, and
// the state of the whole.
func installState(j *phase.Journal, names []string) Install {
	st := Install{State: InstallComplete, Phases: []Phase{}}
	if !j.UpdatedAt.IsZero() {
		t := j.UpdatedAt.UTC()
		st.UpdatedAt = &t
	}
	seen := map[string]bool{}
	add := func(r *phase.PhaseRecord, name string) {
		p := Phase{Name: name, Status: "not-run"}
		if r != nil {
			p = Phase{Name: name, Status: string(r.Status), StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, CheckedAt: r.CheckedAt, Error: r.Error}
		}
		st.Phases = append(st.Phases, p)
		switch phase.Status(p.Status) {
		case phase.StatusDone, phase.StatusUnchanged, phase.StatusSkipped:
		case phase.StatusRunning:
			st.State, st.Interrupted = InstallInterrupted, name
		case phase.StatusFailed:
			if st.State != InstallInterrupted {
				st.State = InstallFailed
			}
		default:
			if st.State == InstallComplete {
				st.State = InstallIncomplete
			}
		}
	}
	for _, n := range names {
		seen[n] = true
		add(j.Phase(n), n)
	}
	// Phases this add2tkectl does not name (an older or newer one ran).
	for _, r := range j.Phases {
		if !seen[r.Name] {
			add(r, r.Name)
		}
	}
	return st
}

// problems lists, in the order of the table, why the node is not healthy.
func problems(r *Report) []string {
	out := []string{}
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	switch r.Install.State {
	case InstallInterrupted:
		add("install interrupted in phase %s", r.Install.Interrupted)
	case InstallFailed, InstallIncomplete:
		for _, p := range r.Install.Phases {
			switch p.Status {
			case string(phase.StatusFailed):
				add("install failed in phase %s", p.Name)
			case "not-run":
				add("install phase %s has not run", p.Name)
			}
		}
	}
	for _, u := range r.Units {
		switch {
		case u.Error != "":
			add("unit %s: systemd did not answer", u.Name)
		case u.LoadState != "loaded":
			add("unit %s %s", u.Name, u.LoadState)
		case !u.Active:
			add("unit %s %s (%s)", u.Name, u.ActiveState, u.SubState)
		case !u.Enabled:
			add("unit %s not enabled", u.Name)
		}
	}
	if !r.Runtime.Healthy {
		add("%s not answering", r.Runtime.Kind)
	}
	if !r.Kubelet.Healthy {
		add("kubelet not healthy")
	}
	n := r.Node
	switch {
	case !n.Joined:
		add("node has not joined (no kubelet credentials)")
	case !n.APIReachable:
		add("API server unreachable")
	case n.Error != "":
		add("API server refused the node's request")
	case !n.Registered:
		add("node not registered")
	case !n.Ready:
		add("node NotReady (%s)", n.Reason)
	}
	switch r.UserScript.State {
	case ScriptPending:
		add("user script has not run")
	case ScriptFailed:
		if r.UserScript.ExitCode != nil {
			add("user script failed (exit %d)", *r.UserScript.ExitCode)
		} else {
			add("user script failed")
		}
	case ScriptChanged:
		add("user script changed since its last run")
	}
	if r.UserScript.Error != "" {
		add("user script result unreadable")
	}
	for _, v := range r.Drift.Versions {
		add("drift: %s %s, configured %s", v.Component, v.Installed, v.Configured)
	}
	for _, l := range r.Drift.Labels {
		add("drift: label %s %s", l.Key, l.Change)
	}
	for _, t := range r.Drift.Taints {
		add("drift: taint %s %s", taintString(t.Taint), t.Change)
	}
	for _, f := range r.Drift.Files {
		add("drift: file %s %s", f.Path, f.Change)
	}
	return out
}
