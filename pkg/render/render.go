// Package render writes under a directory every file install would write —
// through the components' own render functions and the same atomic,
// journaled writer — and starts nothing: no service, no modprobe, no sysctl
// write, no swapoff, no network. Image builders bake a node image with it;
// operators review what install would do.
//
// What depends on the live host is taken from Options (the CLI fills them
// from the machine running render, or from flags): the node IP, the cgroup
// version (failCgroupV1 for the kubelet) and CAP_SYS_RESOURCE (containerd's
// restrict_oom_score_adj and the units' limits). Install on the node renders
// the same files with that node's own facts and rewrites those that differ.
//
// The directory's journal (/var/lib/add2tkectl/state.json) records what
// render wrote under install's phase names, as install does, so that
// install on the booted node takes the files as its own (preflight refuses
// a kubelet or runtime it did not install) and uninstall removes them.
package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/binary"
	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/components"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/logging"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/images"
	"github.com/add2tkectl/add2tkectl/pkg/site"
	"github.com/add2tkectl/add2tkectl/pkg/userscript"
)

// Options are what render needs, the live host's facts included.
type Options struct {
	Config *config.NodePoolJoin
	// Root is the directory to write under; never the host's own "/".
	Root host.Root
	Log  logrus.FieldLogger

	// NodeIP goes into the kubelet's flags (--node-ip).
	NodeIP string
	// CgroupV1 renders the kubelet for a cgroup v1 (or hybrid) host.
	CgroupV1 bool
	// CapSysResource renders the runtime for a host that grants services
	// CAP_SYS_RESOURCE (raised limits, no restrict_oom_score_adj).
	CapSysResource bool

	// ArtifactsDir, when set, is an offline artifacts directory (install
	// --artifacts-dir): its manifest is verified with the configured key,
	// every artifact for Arch is verified into the cache under Root, and
	// the binaries are installed. Without it no binary is written.
	ArtifactsDir string
	// Arch selects the artifacts; "" means this machine's.
	Arch string
	// Progress shows artifacts being verified; nil for none.
	Progress artifact.Progress
	// PhaseProgress receives one line per phase; nil for none.
	PhaseProgress io.Writer
	// Site is the site's settings (proxy, registry mirrors); nil is none.
	Site *site.Settings
}

// LiveRootError is a root that is this host's own: render never writes
// there. The CLI maps it to exit 2.
type LiveRootError struct{ Dir string }

func (e *LiveRootError) Error() string {
	return fmt.Sprintf("--root %s is this host's own root: render writes into an image directory and starts nothing; to set up this host, use install", e.Dir)
}

// File is one file render wrote (or found already in place), as on disk.
type File struct {
	// Path is the host path, as the node will see it.
	Path   string `json:"path"`
	Mode   string `json:"mode"`
	SHA256 string `json:"sha256"`
	// Phase is the install phase the file belongs to.
	Phase string `json:"phase"`
}

// Facts are the host facts the files were rendered for.
type Facts struct {
	NodeIP         string `json:"nodeIP"`
	Cgroup         string `json:"cgroup"`
	CapSysResource bool   `json:"capSysResource"`
	Arch           string `json:"arch"`
	SandboxImage   string `json:"sandboxImage"`
}

// Result is what render wrote, for -o json|yaml and the text list.
type Result struct {
	Root  string `json:"root"`
	Facts Facts  `json:"facts"`
	// Binaries says whether binaries were installed (--artifacts-dir).
	Binaries bool   `json:"binaries"`
	Files    []File `json:"files"`
	// Units are the systemd units whose files render wrote (none enabled
	// or started).
	Units []string `json:"units"`
	// Journal is the host path of the journal that lists the files.
	Journal string `json:"journal"`
	// Notes say what render did not do and what install on the node will.
	Notes []string `json:"notes"`
}

// Workflow is render's phases: those of install.Workflow that write files,
// under install's names and in its order, so that install and uninstall on
// the node find the records where they would have made them. Each says
// what render does in it.
var Workflow = phase.Workflow{
	{Name: install.PhaseDownload, Description: "verify the offline artifacts into the cache"},
	{Name: install.PhaseHost, Description: "write the kernel module and sysctl files, comment out swap in fstab"},
	{Name: install.PhaseRuntime, Description: "write the container runtime's files"},
	{Name: install.PhaseKubelet, Description: "write the kubelet's files"},
	{Name: install.PhaseUserscript, Description: "write the node pool's user script (not run)"},
}

// CheckRoot refuses the host's own root: "", "/", or a directory that is
// "/" through a link or a bind mount.
func CheckRoot(dir string) error {
	if dir == "" || filepath.Clean(dir) == "/" {
		return &LiveRootError{Dir: "/"}
	}
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // render creates it; a new directory is not "/"
	}
	if err != nil {
		return fmt.Errorf("--root %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("--root %s is not a directory: give the directory of the image to write into", dir)
	}
	if slash, err := os.Stat("/"); err == nil && os.SameFile(st, slash) {
		return &LiveRootError{Dir: dir}
	}
	return nil
}

// Run writes every file install would write under o.Root, records them in
// its journal, and returns the list. It starts nothing.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := CheckRoot(o.Root.Dir); err != nil {
		return nil, err
	}
	if o.NodeIP == "" {
		return nil, errors.New("render needs the node IP for the kubelet's --node-ip: pass --node-ip")
	}
	if o.Arch == "" {
		o.Arch = goruntime.GOARCH
	}
	if o.Log == nil {
		o.Log = logging.Discard()
	}
	if o.Progress == nil {
		o.Progress = artifact.NewProgress(io.Discard, false)
	}
	if err := os.MkdirAll(o.Root.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create --root %s: %w", o.Root.Dir, err)
	}
	r := &run{o: o, files: map[string]string{}}
	if _, err := phase.Run(ctx, r.phases(), phase.Options{Root: o.Root.Dir, Progress: o.PhaseProgress, Log: o.Log}); err != nil {
		return nil, err
	}
	return r.result()
}

// run is one render: the phases and what they wrote.
type run struct {
	o Options
	// arts are the verified artifacts in the cache under Root, by name;
	// nil without ArtifactsDir.
	arts    map[string]string
	sandbox string

	mu    sync.Mutex
	files map[string]string // host path -> phase
	units []string
}

func (r *run) binaries() bool { return r.o.ArtifactsDir != "" }

// phases are the steps of Workflow this render runs: download only with
// binaries, the user script only when the pool has one.
func (r *run) phases() []phase.Phase {
	work := map[string]phase.Work{
		install.PhaseHost:    r.work(install.PhaseHost, r.host),
		install.PhaseRuntime: r.work(install.PhaseRuntime, r.runtime),
		install.PhaseKubelet: r.work(install.PhaseKubelet, r.kubelet),
	}
	work[install.PhaseRuntime] = phase.Work{Run: work[install.PhaseRuntime].Run, Detail: r.o.Config.NodePool.Runtime.Kind}
	if r.binaries() {
		work[install.PhaseDownload] = r.work(install.PhaseDownload, r.download)
	}
	if r.o.Config.NodePool.UserScript != "" {
		work[install.PhaseUserscript] = r.work(install.PhaseUserscript, r.userScript)
	}
	names := make([]string, 0, len(work))
	for n := range work {
		names = append(names, n)
	}
	return Workflow.Pick(names...).Phases(work)
}

// work makes a render step a phase's work whose recorder also tells r what
// was written. Satisfied is nil: render always writes (an identical file is
// left untouched by the writer).
func (r *run) work(name string, do func(context.Context, phase.Recorder) error) phase.Work {
	return phase.Work{
		Run: func(ctx context.Context, rec phase.Recorder) error {
			return do(ctx, capture{Recorder: rec, r: r, phase: name})
		},
	}
}

// capture passes every record to the journal and keeps the files and units.
type capture struct {
	phase.Recorder
	r     *run
	phase string
}

func (c capture) File(p, sum string) error {
	c.r.add(c.phase, p)
	return c.Recorder.File(p, sum)
}

func (c capture) Unit(name string) error {
	c.r.mu.Lock()
	c.r.units = append(c.r.units, name)
	c.r.mu.Unlock()
	return c.Recorder.Unit(name)
}

func (r *run) add(ph string, paths ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range paths {
		if _, ok := r.files[p]; !ok {
			r.files[p] = ph
		}
	}
}

// download verifies the offline directory into the cache under Root and
// keeps its manifest where install keeps it, so install on the node finds
// every artifact cached (even once the presigned link has expired).
func (r *run) download(ctx context.Context, rec phase.Recorder) error {
	m, env, err := artifact.LoadOffline(r.o.ArtifactsDir, r.o.Config.Artifacts.PublicKey)
	if err != nil {
		return err
	}
	// An image rendered from another pool's artifacts would boot a node at
	// versions the configuration did not ask for: the same pins as install.
	if err := m.CheckPins(install.Pins(r.o.Config)); err != nil {
		return err
	}
	f := &artifact.Fetcher{
		CacheDir: r.o.Root.Path(paths.CacheDir),
		Progress: r.o.Progress,
		Log:      r.o.Log.WithField("phase", install.PhaseDownload),
	}
	locals, err := f.Fetch(ctx, "", m, "linux", r.o.Arch, r.o.ArtifactsDir)
	r.o.Progress.Wait()
	if err != nil {
		return err
	}
	if _, err := r.o.Root.WriteFile(rec, paths.ManifestPath, env, 0o600); err != nil {
		return err
	}
	r.arts = map[string]string{}
	for name, l := range locals {
		r.arts[name] = l.Path
		// The cache is not journaled (install does not journal it either);
		// it is listed because it is in the image.
		r.add(install.PhaseDownload, filepath.Join(paths.CacheDir, filepath.Base(l.Path)))
	}
	return nil
}

func (r *run) host(ctx context.Context, rec phase.Recorder) error {
	s := host.NewSettings(r.o.Root, r.o.Config.Cluster.Network.Plugin)
	s.Log = r.o.Log.WithField("phase", install.PhaseHost)
	paths, err := s.WriteFiles(ctx, rec)
	r.add(install.PhaseHost, paths...)
	return err
}

func (r *run) capSysResource() (bool, error) { return r.o.CapSysResource, nil }

func (r *run) runtime(_ context.Context, rec phase.Recorder) error {
	c := r.o.Config
	log := r.o.Log.WithField("phase", install.PhaseRuntime)
	sandbox, err := images.SandboxImage(r.arts)
	if err != nil {
		return err
	}
	r.sandbox = sandbox
	// No service manager and no readiness wait: WriteFiles uses neither.
	rt := components.Default().Runtime(c.NodePool.Runtime.Kind)
	if rt == nil {
		return fmt.Errorf("nodePool.runtime.kind %q is no runtime add2tkectl installs", c.NodePool.Runtime.Kind)
	}
	d := component.Deps{Root: r.o.Root, Log: log, Recorder: rec, Config: c, Artifacts: r.arts, Site: r.o.Site, NodeIP: r.o.NodeIP}
	_, err = rt.Installer(d, r.capSysResource).WriteFiles(r.binaries())
	r.addStamp(install.PhaseRuntime, rt.Name())
	return err
}

func (r *run) kubelet(_ context.Context, rec phase.Recorder) error {
	_, err := kubelet.WriteFiles(kubelet.Deps{
		Deps:     component.Deps{Root: r.o.Root, Log: r.o.Log.WithField("phase", install.PhaseKubelet), Recorder: rec, Config: r.o.Config, Artifacts: r.arts, Site: r.o.Site, NodeIP: r.o.NodeIP},
		NodeIP:   r.o.NodeIP,
		CgroupV1: r.o.CgroupV1,
	}, r.binaries())
	r.addStamp(install.PhaseKubelet, kubelet.Component)
	return err
}

func (r *run) userScript(_ context.Context, rec phase.Recorder) error {
	_, err := userscript.WriteScript(r.o.Root, rec, r.o.Config.NodePool.UserScript)
	return err
}

// addStamp lists a component's binaries and stamp: the installer records
// them only when it copies them, and a second render into the same
// directory finds them in place.
func (r *run) addStamp(ph, component string) {
	if !r.binaries() {
		return
	}
	st, err := binary.LoadStamp(r.o.Root, component)
	if err != nil || len(st.Files) == 0 {
		return
	}
	r.add(ph, binary.StampPath(component))
	for p := range st.Files {
		r.add(ph, p)
	}
}

// result describes every file listed, as it is on disk now.
func (r *run) result() (*Result, error) {
	c := r.o.Config
	cg := "v2"
	if r.o.CgroupV1 {
		cg = "v1"
	}
	res := &Result{
		Root: r.o.Root.Dir,
		Facts: Facts{NodeIP: r.o.NodeIP, Cgroup: cg, CapSysResource: r.o.CapSysResource,
			Arch: r.o.Arch, SandboxImage: r.sandbox},
		Binaries: r.binaries(),
		Files:    []File{},
		Units:    uniqueSorted(r.units),
		Journal:  paths.JournalPath,
	}
	paths := make([]string, 0, len(r.files))
	for p := range r.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		b, err := os.ReadFile(r.o.Root.Path(p))
		if err != nil {
			return nil, fmt.Errorf("read back %s: %w", p, err)
		}
		st, err := os.Stat(r.o.Root.Path(p))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		res.Files = append(res.Files, File{Path: p, Mode: fmt.Sprintf("%04o", st.Mode().Perm()), SHA256: hex.EncodeToString(sum[:]), Phase: r.files[p]})
	}

	note := func(format string, a ...any) { res.Notes = append(res.Notes, fmt.Sprintf(format, a...)) }
	if r.binaries() {
		note("binaries are included, for linux/%s; the image tarballs are in the artifact cache, and install on the node imports them into the runtime", r.o.Arch)
	} else {
		note("binaries are not included (kubelet, %s, runc, CNI plugins): pass --artifacts-dir to include them, or install on the node downloads them", c.NodePool.Runtime.Kind)
		if r.sandbox == images.DefaultSandboxImage {
			note("the sandbox image is the default %s: if the manifest ships another image/pause, install on the node rewrites the files that name it", images.DefaultSandboxImage)
		}
	}
	note("rendered for node IP %s, cgroup %s, CAP_SYS_RESOURCE %v: install on each node renders with that node's own facts and rewrites what differs", r.o.NodeIP, cg, r.o.CapSysResource)
	note("nothing was started, enabled, loaded or applied: modules-load.d and sysctl.d take effect at boot, and install on the node enables and starts the services and joins the node")
	note("%s is 0600 and holds the bootstrap token: keep the directory and the images made from it as secret as the token", kubelet.BootstrapKubeconfig)
	return res, nil
}

func uniqueSorted(in []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// FormatText is the text form of a result: one line per file (mode,
// sha256, path), the units, then the notes.
func FormatText(res *Result) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Wrote under %s (journal %s):\n", res.Root, res.Journal)
	for _, f := range res.Files {
		fmt.Fprintf(&b, "  %s  %s  %s\n", f.Mode, f.SHA256, f.Path)
	}
	if len(res.Units) > 0 {
		fmt.Fprintf(&b, "Units (not enabled, not started): %s\n", strings.Join(res.Units, ", "))
	}
	for _, n := range res.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	return []byte(b.String())
}
