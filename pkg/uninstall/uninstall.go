package uninstall

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/components"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/join"
	"github.com/add2tkectl/add2tkectl/pkg/logging"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// LabelUninstalled marks a Node whose host was uninstalled, for the control
// plane to delete: the node's own credentials may not (RBAC).
const LabelUninstalled = join.LabelUninstalled

// Deps is what uninstall needs, passed in explicitly.
type Deps struct {
	Root host.Root
	Log  logrus.FieldLogger
	// Journal is what install recorded; an empty one means nothing to remove
	// but what the configuration names.
	Journal *phase.Journal
	// Config is the effective configuration, or nil when it cannot be
	// loaded: the journal then says what the runtime and its data dir are.
	Config *config.NodePoolJoin
	// Systemd connects to the service manager; called at most once.
	Systemd func(ctx context.Context) (systemd.Manager, error)
	// KeepData keeps the container runtime's data directory.
	KeepData bool
	// Kubeconfig (a path on this machine) of a user allowed to delete the
	// Node; empty means cordon and label it with the node's own credentials.
	Kubeconfig string
	// NodeName is the Node this host registered as.
	NodeName string
	// NewClient builds API clients; nil means join.NewClient.
	NewClient join.ClientFactory
	// APITimeout bounds each request to the API server.
	APITimeout time.Duration
	// Live acts on the running kernel and network too (interfaces,
	// iptables, sysctls, swap, leftover processes): the root is "/".
	Live bool
	// Containers removes the pods' containers through the runtime; nil
	// means the runtime component's own client on its socket under Root.
	Containers func(kind string) component.ContainerRemover
	// Components are the node's parts, which say what they leave on the
	// host; the zero value means components.Default().
	Components component.Set
}

// Uninstall holds one run: the steps share the service manager and collect
// what they plan and warn about for the operator.
type Uninstall struct {
	d Deps

	sysOnce sync.Once
	sys     systemd.Manager
	sysErr  error

	mu       sync.Mutex
	plans    map[string][]string
	warnings []string

	unknownDataDir sync.Once
}

// New prepares an uninstall; Steps lists what it does.
func New(d Deps) *Uninstall {
	if d.Journal == nil {
		d.Journal = &phase.Journal{}
	}
	if d.Log == nil {
		d.Log = logging.Discard()
	}
	if d.NewClient == nil {
		d.NewClient = join.NewClient
	}
	if d.APITimeout <= 0 {
		d.APITimeout = 10 * time.Second
	}
	if d.Components.Agent == nil {
		d.Components = components.Default()
	}
	return &Uninstall{d: d, plans: map[string][]string{}}
}

// Report is what the steps planned (each step's actions as found when it
// was checked) and the warnings of the run, for the operator and -o json.
type Report struct {
	Plan     map[string][]string `json:"plan,omitempty"`
	Warnings []string            `json:"warnings,omitempty"`
}

// Report returns what the run planned and warned about so far.
func (u *Uninstall) Report() Report {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := Report{Plan: map[string][]string{}, Warnings: append([]string(nil), u.warnings...)}
	for k, v := range u.plans {
		if len(v) > 0 {
			r.Plan[k] = append([]string(nil), v...)
		}
	}
	return r
}

func (u *Uninstall) warn(step, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	u.d.Log.WithField("step", step).Warn(msg)
	u.mu.Lock()
	u.warnings = append(u.warnings, step+": "+msg)
	u.mu.Unlock()
}

func (u *Uninstall) setPlan(step string, actions []string) {
	u.mu.Lock()
	u.plans[step] = actions
	u.mu.Unlock()
}

func (u *Uninstall) systemd(ctx context.Context) (systemd.Manager, error) {
	u.sysOnce.Do(func() {
		if u.d.Systemd == nil {
			u.sysErr = fmt.Errorf("no service manager")
			return
		}
		u.sys, u.sysErr = u.d.Systemd(ctx)
	})
	return u.sys, u.sysErr
}

// units are the journal's units in the order to stop them (each
// component's Unit.Stop): the kubelet first (it would restart what is
// removed under it), then the sockets (a connection to one would start its
// service again), the CRI shim, the runtimes. A unit no component declares
// goes last.
func (u *Uninstall) units() []string {
	order := map[string]component.Stop{}
	for _, c := range u.d.Components.All() {
		for _, unit := range c.Footprint().Units {
			order[unit.Name] = unit.Stop
		}
	}
	rank := func(name string) component.Stop {
		if o, ok := order[name]; ok {
			return o
		}
		return component.StopRuntime + 1
	}
	units := u.d.Journal.Units()
	sort.SliceStable(units, func(i, j int) bool { return rank(units[i]) < rank(units[j]) })
	return units
}

func (u *Uninstall) hasUnit(name string) bool {
	for _, n := range u.d.Journal.Units() {
		if n == name {
			return true
		}
	}
	return false
}

// unitsInstalled reports whether the journal lists a unit of c.
func (u *Uninstall) unitsInstalled(c component.Component) bool {
	for _, unit := range c.Footprint().Units {
		if u.hasUnit(unit.Name) {
			return true
		}
	}
	return false
}

// marked reports whether the journal lists a file that marks c installed.
func (u *Uninstall) marked(c component.Component) bool {
	for _, f := range u.d.Journal.Files() {
		for _, m := range c.Footprint().Marks {
			if path.Clean(f.Path) == m {
				return true
			}
		}
	}
	return false
}

// agentInstalled reports whether the journal lists the node agent's unit:
// only then did pods run, with their transient units and network.
func (u *Uninstall) agentInstalled() bool {
	for _, c := range u.d.Components.All() {
		for _, unit := range c.Footprint().Units {
			if unit.Stop == component.StopAgent && u.hasUnit(unit.Name) {
				return true
			}
		}
	}
	return false
}

// isAgentUnit reports whether name is a unit of the node agent.
func (u *Uninstall) isAgentUnit(name string) bool {
	for _, c := range u.d.Components.All() {
		for _, unit := range c.Footprint().Units {
			if unit.Stop == component.StopAgent && unit.Name == name {
				return true
			}
		}
	}
	return false
}

// runtimeKind is the runtime install set up: the journal's units say,
// the configuration otherwise.
func (u *Uninstall) runtimeKind() string {
	for _, r := range u.d.Components.Runtimes {
		if u.unitsInstalled(r) {
			return r.Kind()
		}
	}
	if u.d.Config != nil {
		return u.d.Config.NodePool.Runtime.Kind
	}
	return ""
}

// runtime is the component of the runtime install set up, or nil.
func (u *Uninstall) runtime() component.Runtime {
	return u.d.Components.Runtime(u.runtimeKind())
}

// dataDir is the runtime's data directory as install recorded it (the
// journal's install.KeyDataDir), never the current configuration's: a new
// bundle, ADD2TKE_NODEPOOL_RUNTIME_DATADIR or --set must not make
// uninstall empty a directory install never gave the runtime. A journal
// of an older add2tkectl has no such fact: the configured or default data
// dir is taken only if install created it (the journal lists it, so it is
// wholly ours), and otherwise none, with a warning.
func (u *Uninstall) dataDir() string {
	v := u.d.Journal.Values()
	if dd := v[install.KeyDataDir]; dd != "" {
		return path.Clean(dd)
	}
	var candidates []string
	if u.d.Config != nil && u.d.Config.NodePool.Runtime.DataDir != "" {
		candidates = append(candidates, path.Clean(u.d.Config.NodePool.Runtime.DataDir))
	}
	if r := u.runtime(); r != nil {
		candidates = append(candidates, r.DefaultDataDir())
	}
	if len(candidates) > 0 && !u.ours(candidates[0]) && len(u.d.Journal.Units()) > 0 {
		u.unknownDataDir.Do(func() {
			u.warn("files", "the journal does not say which data dir install gave the runtime (it was written by an older add2tkectl), "+
				"and install did not create %s: it is left as it is; remove the runtime's data in it by hand if you want it gone", candidates[0])
		})
	}
	for _, c := range candidates {
		if u.ours(c) {
			return c
		}
	}
	return ""
}

// dataDirEntries are the names the data dir held before install gave it to
// the runtime (install.KeyDataDirEntries): the operator's, kept whatever
// they are called.
func (u *Uninstall) dataDirEntries() map[string]bool {
	var names []string
	if v := u.d.Journal.Values()[install.KeyDataDirEntries]; v != "" {
		_ = json.Unmarshal([]byte(v), &names)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out
}

// ours reports whether install created the directory p (the journal lists
// it); a directory that existed before (a data disk's mount point) is not.
func (u *Uninstall) ours(p string) bool {
	for _, d := range u.d.Journal.Dirs() {
		if path.Clean(d) == path.Clean(p) {
			return true
		}
	}
	return false
}

// installed reports whether the journal shows anything of an install.
func (u *Uninstall) installed() bool {
	j := u.d.Journal
	return len(j.Files()) > 0 || len(j.Dirs()) > 0 || len(j.Units()) > 0 || len(j.Values()) > 0
}

func within(p, dir string) bool {
	p, dir = path.Clean(p), path.Clean(dir)
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}
