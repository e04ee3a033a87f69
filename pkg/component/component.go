// Package component is the contract between the parts of a node and the
// commands that find them again. Each part install puts on the host —
// containerd, docker with cri-dockerd, the kubelet, the host settings, the
// images, the user script — implements it in its own package, and declares
// there what it leaves on the host beyond the files the journal lists. status
// asks the components for their reports; uninstall takes every unit, path and
// leftover from them and the journal, and knows no component by name.
//
// Adding a component is one package that implements Component (and Runtime
// or Agent for those roles) and one line in pkg/components.
package component

import (
	"context"
	"errors"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/site"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// Deps is what installing any component needs from its caller; each
// component's own Deps embeds it and adds what is its alone.
type Deps struct {
	Root host.Root
	// Systemd is the service manager; nil where nothing starts (render).
	Systemd  systemd.Manager
	Log      logrus.FieldLogger
	Recorder phase.Recorder
	Config   *config.NodePoolJoin
	// Artifacts maps an artifact name to its verified local file.
	Artifacts map[string]string
	// Site is the site's settings (proxy, registry mirrors); nil is none.
	Site *site.Settings
	// NodeIP is the node's address, which the NO_PROXY of the services'
	// proxy drop-ins lists; set where a proxy is.
	NodeIP string
	// Unpacks has the archives the download phase already unpacked (or is
	// unpacking); nil: a plan unpacks its own.
	Unpacks *artifact.Unpacks
}

// Component is one part of a node.
type Component interface {
	// Name is the component's name in stamps, logs and reports.
	Name() string
	// Footprint is what it leaves on the host that the journal does not
	// list file by file. It does not depend on the configuration: uninstall
	// goes by what the journal shows was installed, not by what a new
	// bundle or --set says now.
	Footprint() Footprint
}

// Footprint is what status and uninstall need to find a component again.
type Footprint struct {
	// Units are its systemd units, each with its place in the stop order
	// and what its service makes while it runs.
	Units []Unit
	// Marks are host files whose presence in the journal shows that install
	// set the component up, for a component without units (the user script).
	Marks []string
	// VersionFact is the journal key of the version it installed.
	VersionFact string
	// MountTrees are directories whose mounts are its own: unmounted,
	// deepest first, before anything is removed. A pattern (path.Match)
	// stands for the entries of its directory that match.
	MountTrees []string
	// Owned are directories whose every entry is its own even when install
	// did not create them (the kubelet's root on a data disk): emptied, the
	// directory and its own mount kept.
	Owned []string
	// Transient are patterns of the transient units its pods make (the
	// QoS and pod slices, the containers' scopes).
	Transient []string
	// PodNetwork says its pods made network interfaces and iptables chains
	// (the CNI of the kubelet's pods).
	PodNetwork bool
	// Logs are files it appends to, which the journal does not list as
	// written whole.
	Logs []string
}

// Unit is a systemd unit of a component.
type Unit struct {
	Name string
	// Stop is its place in the stop order: lower stops first.
	Stop Stop
	// Products are the paths its service makes while it runs, which install
	// did not write (credentials, state, sockets, logs): removed whole when
	// the journal lists the unit. A pattern (path.Match) stands for the
	// entries of its directory that match.
	Products []string
}

// Stop orders the units uninstall stops.
type Stop int

const (
	// StopAgent is the node agent: stopped first, before the pods'
	// containers are removed, as it would restart them.
	StopAgent Stop = iota
	// StopShimSocket and StopRuntimeSocket are socket units: a connection
	// to one would start its service again.
	StopShimSocket
	StopRuntimeSocket
	// StopShim is a CRI shim between the agent and a runtime.
	StopShim
	// StopRuntime is a container runtime, stopped last.
	StopRuntime
)

// Installer is a component's install side, bound to one run: what
// install's phase and render call.
type Installer interface {
	// WriteFiles puts its directories, files and (with binaries) its
	// binaries in place and starts nothing, recording them; it returns the
	// host paths it changed. Render stops here.
	WriteFiles(binaries bool) ([]string, error)
	// Install makes it installed, configured and running, restarting only
	// what reads a changed file.
	Install(ctx context.Context) (changed bool, err error)
	// Satisfied reports whether Install would change nothing; an error
	// means it cannot tell.
	Satisfied(ctx context.Context) (bool, error)
}

// Runtime is a container runtime component.
type Runtime interface {
	Component
	Prober
	// Installer binds its install side to a run; capSysResource overrides
	// how it learns whether services may raise limits (render takes it
	// from a flag), nil asks this process.
	Installer(d Deps, capSysResource func() (bool, error)) Installer
	// Kind is the runtime's name in the configuration (nodePool.runtime.kind).
	Kind() string
	// DefaultDataDir is its data directory when the configuration names none.
	DefaultDataDir() string
	// OwnsDataEntry reports whether an entry of its data directory is the
	// runtime's: of a data dir install did not create only those go, so a
	// dir on a disk that holds other things loses nothing else.
	OwnsDataEntry(name string) bool
	// Containers removes the pods' containers through the runtime's API,
	// on its socket under root.
	Containers(root host.Root) ContainerRemover
}

// Agent is the node agent: the kubelet.
type Agent interface {
	Component
	Prober
}

// Launcher is a component that something other than install put on the
// host to run install (cloud-init's first-boot unit): the journal does not
// list it, and uninstall stops and removes it first, so that a retry of it
// does not install again.
type Launcher interface {
	Component
	// RemovalPlan lists what Remove would do; empty when it is not there.
	RemovalPlan(root host.Root) []string
	// Remove stops it and removes its files; connect is called only when
	// there is something to stop.
	Remove(ctx context.Context, root host.Root, connect func(context.Context) (systemd.Manager, error)) error
}

// Prober is a component status asks whether it answers.
type Prober interface {
	// Probe asks the running component once, bounded by ctx.
	Probe(ctx context.Context, root host.Root) Probe
}

// Probe is what a component answered.
type Probe struct {
	Healthy bool
	// Version is what the component reports of itself.
	Version string
	// Endpoint is where it was asked: a socket, a URL.
	Endpoint string
	// Error says why it is not healthy, or what could not be read.
	Error string
}

// ContainerRemover removes the Kubernetes containers and sandboxes of a
// runtime through its API, so the runtime unmounts their root filesystems
// and releases their snapshots itself.
type ContainerRemover interface {
	// List names the containers (sandboxes included) there are.
	List(ctx context.Context) ([]string, error)
	// RemoveAll kills and removes them, returning how many it removed.
	RemoveAll(ctx context.Context) (int, error)
}

// ErrRuntimeDown says the runtime's socket does not exist: nothing answers.
var ErrRuntimeDown = errors.New("the runtime is not running (no socket)")

// Set is the components of a node, by role.
type Set struct {
	Runtimes []Runtime
	Agent    Agent
	// Launchers are what runs install from outside (first boot).
	Launchers []Launcher
	// Others are the components with no role of their own (host settings,
	// images, the user script).
	Others []Component
}

// All lists every component of the set.
func (s Set) All() []Component {
	var out []Component
	for _, r := range s.Runtimes {
		out = append(out, r)
	}
	if s.Agent != nil {
		out = append(out, s.Agent)
	}
	for _, l := range s.Launchers {
		out = append(out, l)
	}
	return append(out, s.Others...)
}

// Runtime is the runtime of kind, or nil.
func (s Set) Runtime(kind string) Runtime {
	for _, r := range s.Runtimes {
		if r.Kind() == kind {
			return r
		}
	}
	return nil
}
