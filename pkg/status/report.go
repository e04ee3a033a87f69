package status

import (
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/firstboot"
)

// Report is what `status -o json|yaml` prints. Its field names are a
// contract with monitoring and Ansible (`failed_when`, `until`): fields may
// be added, never renamed or removed. Times are RFC 3339 in UTC.
type Report struct {
	// Healthy is the verdict the exit code carries: true only when every
	// component is healthy and nothing drifted from the configuration.
	Healthy bool `json:"healthy"`
	// Installed is false on a host where install never ran.
	Installed bool `json:"installed"`
	// Problems are why the node is not healthy, one short sentence each,
	// in the order of the table; empty when healthy.
	Problems []string `json:"problems"`

	Cluster  string `json:"cluster,omitempty"`
	NodePool string `json:"nodePool,omitempty"`
	NodeName string `json:"nodeName"`

	Install    Install    `json:"install"`
	Units      []Unit     `json:"units"`
	Runtime    Runtime    `json:"runtime"`
	Kubelet    Kubelet    `json:"kubelet"`
	Node       Node       `json:"node"`
	UserScript UserScript `json:"userScript"`
	Drift      Drift      `json:"drift"`
	// FirstBoot is the first-boot unit's outcome (joined, trying, gave-up);
	// absent when the host was not joined by cloud-init.
	FirstBoot *firstboot.Result `json:"firstBoot,omitempty"`
}

// Install states.
const (
	InstallComplete     = "complete"      // every phase done, unchanged or skipped
	InstallIncomplete   = "incomplete"    // some phase has not run yet
	InstallInterrupted  = "interrupted"   // a run was killed inside a phase
	InstallFailed       = "failed"        // the last run failed in a phase
	InstallNotInstalled = "not-installed" // no journal
)

// Install is the install workflow as the state journal records it.
type Install struct {
	State string `json:"state"`
	// Interrupted names the phase a run was killed in, if any.
	Interrupted string     `json:"interrupted,omitempty"`
	UpdatedAt   *time.Time `json:"updatedAt,omitempty"`
	// Phases are the install phases in their order; a phase that never
	// ran has status "not-run".
	Phases []Phase `json:"phases"`
}

// Phase is one install phase's last outcome.
type Phase struct {
	Name string `json:"name"`
	// Status: done, unchanged, skipped, failed, running (interrupted) or not-run.
	Status     string     `json:"status"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
	CheckedAt  *time.Time `json:"checkedAt,omitempty"`
	Error      string     `json:"error,omitempty"`
}

// Unit is a systemd unit install put on the host, as systemd reports it.
type Unit struct {
	Name          string     `json:"name"`
	LoadState     string     `json:"loadState,omitempty"`
	ActiveState   string     `json:"activeState,omitempty"`
	SubState      string     `json:"subState,omitempty"`
	UnitFileState string     `json:"unitFileState,omitempty"`
	Active        bool       `json:"active"`
	Enabled       bool       `json:"enabled"`
	ActiveSince   *time.Time `json:"activeSince,omitempty"`
	// Error is set when systemd could not be asked.
	Error string `json:"error,omitempty"`
}

// Runtime is the container runtime answering on its socket.
type Runtime struct {
	Kind    string `json:"kind"` // containerd | docker
	Healthy bool   `json:"healthy"`
	// Version is what the running daemon reports, e.g. "1.6.20~ds1".
	Version string `json:"version,omitempty"`
	Socket  string `json:"socket"`
	Error   string `json:"error,omitempty"`
}

// Kubelet is the kubelet's health endpoint and installed binary.
type Kubelet struct {
	Healthy    bool   `json:"healthy"`
	HealthzURL string `json:"healthzURL"`
	// Version is what the installed binary says (`kubelet --version`).
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Node is the Node object as the API server shows it to this node, read
// with the node's own credentials.
type Node struct {
	// Joined is false when the host has no kubelet credentials (kubelet.conf).
	Joined bool `json:"joined"`
	// APIReachable is false when the API server did not answer in time.
	APIReachable  bool              `json:"apiReachable"`
	Registered    bool              `json:"registered"`
	Ready         bool              `json:"ready"`
	Reason        string            `json:"reason,omitempty"` // why not Ready
	Unschedulable bool              `json:"unschedulable"`
	Labels        map[string]string `json:"labels,omitempty"`
	Taints        []config.Taint    `json:"taints,omitempty"`
	InternalIP    string            `json:"internalIP,omitempty"`
	// KubeletVersion is what the running kubelet reported to the API server.
	KubeletVersion string `json:"kubeletVersion,omitempty"`
	Error          string `json:"error,omitempty"`
	// readyReportedAt is when the kubelet last wrote the Ready condition.
	readyReportedAt time.Time
}

// UserScript is the pool's user script's last run (last-run.json).
type UserScript struct {
	// Configured is false when the pool has no user script.
	Configured bool `json:"configured"`
	// State: none (not configured), pending (never ran), succeeded, failed,
	// changed (the configured script is not the one that last ran).
	State     string     `json:"state"`
	LastRun   *time.Time `json:"lastRun,omitempty"`
	ExitCode  *int       `json:"exitCode,omitempty"`
	Attempts  int        `json:"attempts,omitempty"`
	TimedOut  bool       `json:"timedOut,omitempty"`
	Duration  string     `json:"duration,omitempty"`
	LogPath   string     `json:"logPath,omitempty"`
	SHA256    string     `json:"sha256,omitempty"`
	Error     string     `json:"error,omitempty"`
	Succeeded bool       `json:"succeeded"`
}

// User script states.
const (
	ScriptNone      = "none"
	ScriptPending   = "pending"
	ScriptSucceeded = "succeeded"
	ScriptFailed    = "failed"
	ScriptChanged   = "changed"
)

// Drift is how the host differs from the configuration and from what
// install wrote. Unchecked names comparisons that could not be made (the
// API server or the runtime did not answer), so an empty list there is not
// mistaken for "no drift".
type Drift struct {
	Versions  []VersionDrift `json:"versions,omitempty"`
	Labels    []LabelDrift   `json:"labels,omitempty"`
	Taints    []TaintDrift   `json:"taints,omitempty"`
	Files     []FileDrift    `json:"files,omitempty"`
	Unchecked []string       `json:"unchecked,omitempty"`
}

// Empty reports whether nothing drifted.
func (d Drift) Empty() bool {
	return len(d.Versions) == 0 && len(d.Labels) == 0 && len(d.Taints) == 0 && len(d.Files) == 0
}

// VersionDrift is a component whose version is not the configured one.
type VersionDrift struct {
	Component  string `json:"component"` // containerd, docker, kubelet, runtime-kind
	Configured string `json:"configured"`
	Installed  string `json:"installed"`
	// Where says which of the installed binary and the running process
	// differs (kubelet: the Node may report an older running kubelet).
	Where string `json:"where,omitempty"`
}

// LabelDrift is a label of the pool that the Node lacks or carries with
// another value, or one the pool dropped that the Node still carries.
type LabelDrift struct {
	Key        string `json:"key"`
	Configured string `json:"configured,omitempty"`
	Node       string `json:"node,omitempty"`
	// Change: missing (not on the Node), different, or unwanted (the pool
	// applied it once and no longer configures it).
	Change string `json:"change"`
}

// TaintDrift is a configured taint the Node lacks, or a taint under a key
// the pool owns that the configuration does not ask for.
type TaintDrift struct {
	Taint config.Taint `json:"taint"`
	// Change: missing or unexpected.
	Change string `json:"change"`
}

// FileDrift is a file install wrote that is no longer what it wrote.
type FileDrift struct {
	Path string `json:"path"`
	// Change: modified or missing.
	Change string `json:"change"`
	// SHA256 is what install wrote; Current what is there now.
	SHA256  string `json:"sha256"`
	Current string `json:"current,omitempty"`
}

// Drift changes.
const (
	ChangeMissing    = "missing"
	ChangeDifferent  = "different"
	ChangeUnwanted   = "unwanted"
	ChangeUnexpected = "unexpected"
	ChangeModified   = "modified"
)
