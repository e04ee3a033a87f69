package uninstall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/add2tkectl/add2tkectl/pkg/binary"
	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient/kubeclienttest"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/containerd"
	"github.com/add2tkectl/add2tkectl/pkg/site"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
)

// fixture is a host prepared in a directory as install leaves it: files,
// directories and units recorded by the real phase runner, running units in
// the fake systemd, and things that are not ours next to them.
type fixture struct {
	t     *testing.T
	root  host.Root
	sys   *systemdtest.Fake
	cfg   *config.NodePoolJoin
	ctrs  *fakeContainers
	files []string // what install recorded
}

func quietLog() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}

func testConfig(dataDir string) *config.NodePoolJoin {
	c := &config.NodePoolJoin{}
	c.Cluster.Network.Plugin = config.NetworkCiliumVXLAN
	c.NodePool.Runtime.Kind = config.RuntimeContainerd
	c.NodePool.Runtime.DataDir = dataDir
	return c
}

// notOurs are files an operator has next to ours; uninstall must leave them.
var notOurs = []string{
	"/usr/local/bin/operator-tool",
	"/etc/systemd/system/operator.service",
	"/etc/containerd-backup/config.toml",
	"/opt/cni/README.operator", // in a parent install did not create
	"/var/log/add2tkectl/add2tkectl.log",
	"/etc/fstab",
}

// fixtureOptions vary the host install found.
type fixtureOptions struct {
	// before prepares the host before install runs (an operator's symlinks,
	// data disks, directories).
	before func(f *fixture)
	// dataDir is the data dir install gave the runtime and recorded
	// (install.RecordDataDir); "none" records none, as an older add2tkectl.
	dataDir string
}

func newFixture(t *testing.T) *fixture { return newFixtureWith(t, fixtureOptions{}) }

func newFixtureWith(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	dir := t.TempDir()
	if o.dataDir == "" {
		o.dataDir = "/var/lib/containerd"
	}
	f := &fixture{t: t, root: host.Root{Dir: dir}, sys: systemdtest.NewFake(dir), cfg: testConfig("/var/lib/containerd"), ctrs: &fakeContainers{ids: []string{"sandbox1", "ctr1"}}}
	for _, p := range notOurs {
		f.write(p, "operator's "+p+"\n")
	}
	if o.before != nil {
		o.before(f)
	}
	// /opt/cni existed before install: it is not recorded, /opt/cni/bin is.
	installPhase := phase.Phase{Name: "runtime", Run: func(ctx context.Context, rec phase.Recorder) error {
		if o.dataDir != "none" {
			if err := install.RecordDataDir(f.root, o.dataDir, rec); err != nil {
				return err
			}
		}
		for _, d := range []string{"/var/lib/containerd", "/etc/containerd", "/opt/cni/bin", "/etc/cni/net.d", kubelet.RootDir, "/etc/kubernetes"} {
			if err := binary.EnsureDir(f.root, rec, d, 0o755); err != nil {
				return err
			}
		}
		for p, data := range map[string]string{
			"/usr/local/bin/containerd":                     "containerd binary",
			"/usr/local/bin/kubelet":                        "kubelet binary",
			"/opt/cni/bin/loopback":                         "cni plugin",
			"/etc/containerd/config.toml":                   "version = 2\n",
			systemd.UnitPath(containerd.UnitName):           "[Service]\nExecStart=/usr/local/bin/containerd\n",
			systemd.UnitPath(kubelet.UnitName):              "[Service]\nExecStart=/usr/local/bin/kubelet\n",
			"/etc/systemd/system/kubelet.service.d/10.conf": "[Service]\n",
			site.DropInPath(containerd.UnitName):            "[Service]\nEnvironment=\"HTTPS_PROXY=http://10.0.0.2:3128\"\n",
			site.DropInPath(kubelet.UnitName):               "[Service]\nEnvironment=\"HTTPS_PROXY=http://10.0.0.2:3128\"\n",
			"/etc/kubernetes/bootstrap-kubelet.conf":        "token\n",
			kubelet.ConfigPath:                              "kind: KubeletConfiguration\n",
			host.SysctlFile:                                 "net.ipv4.ip_forward = 1\n",
			"/var/lib/add2tkectl/stamps/containerd.json":    "{}\n",
		} {
			if _, err := f.root.WriteFile(rec, p, []byte(data), 0o644); err != nil {
				return err
			}
			f.files = append(f.files, p)
		}
		for _, u := range []string{containerd.UnitName, kubelet.UnitName} {
			if err := rec.Unit(u); err != nil {
				return err
			}
		}
		return rec.Set("containerd.version", "1.7.22")
	}}
	if _, err := phase.Run(context.Background(), []phase.Phase{installPhase}, phase.Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
	// What the services made while they ran: not in the journal.
	f.write("/var/lib/containerd/io.containerd.content.v1.content/blob", "layer")
	f.write("/var/lib/kubelet/pods/uid/volumes/kubernetes.io~empty-dir/data/x", "pod data")
	f.write("/var/lib/kubelet/pki/kubelet-client-current.pem", "cert")
	f.write(paths.KubeletKubeconfig, "kubeconfig")
	f.write("/var/log/pods/ns_pod_uid/c/0.log", "log")
	f.write("/run/containerd/containerd.sock", "")
	f.write("/run/nri/nri.sock", "") // containerd 2's NRI socket
	f.write("/var/cache/add2tkectl/abc", "artifact")
	ctx := context.Background()
	if err := f.sys.DaemonReload(ctx); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{containerd.UnitName, kubelet.UnitName} {
		if err := f.sys.Enable(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := f.sys.Start(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	f.sys.AddTransient("kubepods.slice")
	f.sys.AddTransient("kubepods-besteffort-pod1.slice")
	f.sys.AddTransient("cri-containerd-ctr1.scope")
	f.sys.ResetCalls()
	return f
}

func (f *fixture) write(p, data string) {
	f.t.Helper()
	full := f.root.Path(p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) exists(p string) bool {
	_, err := os.Lstat(f.root.Path(p))
	return err == nil
}

func (f *fixture) deps() Deps {
	j, err := phase.LoadJournal(f.root.Dir)
	if err != nil {
		f.t.Fatal(err)
	}
	return Deps{
		Root: f.root, Log: quietLog(), Journal: j, Config: f.cfg,
		Systemd:    func(context.Context) (systemd.Manager, error) { return f.sys, nil },
		NodeName:   "node1",
		Containers: func(string) component.ContainerRemover { return f.ctrs },
		NewClient: func(host.Root, string, time.Duration) (kubeclient.Interface, error) {
			return nil, errors.New("no API server in this test")
		},
	}
}

// run runs uninstall as the command does: a fresh journal read each time.
func (f *fixture) run(dryRun bool, tweak ...func(*Deps)) (*phase.Result, *Uninstall, error) {
	f.t.Helper()
	d := f.deps()
	for _, fn := range tweak {
		fn(&d)
	}
	u := New(d)
	res, err := phase.Run(context.Background(), u.Steps(), phase.Options{Root: f.root.Dir, DryRun: dryRun, NoJournal: true})
	return res, u, err
}

// snapshot lists every path under the root with its mode and content hash.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		v := info.Mode().String()
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			v += " " + hex.EncodeToString(sum[:8])
		}
		rel, _ := filepath.Rel(root, p)
		out["/"+rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type fakeContainers struct {
	mu      sync.Mutex
	ids     []string
	removed int
	down    bool
}

func (c *fakeContainers) List(context.Context) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, component.ErrRuntimeDown
	}
	return append([]string(nil), c.ids...), nil
}

func (c *fakeContainers) RemoveAll(context.Context) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return 0, component.ErrRuntimeDown
	}
	n := len(c.ids)
	c.removed += n
	c.ids = nil
	return n, nil
}

func TestUninstallRemovesExactlyWhatTheJournalAndItsServicesMade(t *testing.T) {
	f := newFixture(t)
	res, u, err := f.run(false)
	if err != nil {
		t.Fatalf("uninstall: %v\n%+v", err, res)
	}
	if !res.Changed {
		t.Error("first uninstall reports no change")
	}
	for _, p := range f.files {
		if f.exists(p) {
			t.Errorf("%s (in the journal) is still there", p)
		}
	}
	for _, p := range notOurs {
		if !f.exists(p) {
			t.Errorf("%s is not ours and was removed", p)
		}
	}
	for _, p := range []string{
		"/var/lib/containerd", "/var/lib/kubelet", "/etc/containerd", "/etc/kubernetes", "/etc/cni", // ours, and /etc/cni left empty
		"/opt/cni/bin", "/etc/systemd/system/kubelet.service.d", "/etc/systemd/system/containerd.service.d", paths.KubeletKubeconfig,
		"/var/log/pods", "/run/containerd", "/run/nri", paths.CacheDir, paths.StateDir,
	} {
		if f.exists(p) {
			t.Errorf("%s is still there", p)
		}
	}
	if !f.exists("/opt/cni") {
		t.Error("/opt/cni existed before install (it holds the operator's file) and was removed")
	}
	if f.ctrs.removed != 2 {
		t.Errorf("containers removed through the runtime: %d, want 2", f.ctrs.removed)
	}
	calls := strings.Join(f.sys.Calls(), "\n")
	for _, want := range []string{"stop kubelet.service", "stop cri-containerd-ctr1.scope", "kill 9 cri-containerd-ctr1.scope", "stop kubepods.slice", "stop containerd.service", "kill 9 containerd.service", "disable", "daemon-reload"} {
		if !strings.Contains(calls, want) {
			t.Errorf("systemd calls lack %q:\n%s", want, calls)
		}
	}
	// Order: the kubelet stops before the containers go, the runtime after.
	if i, j := strings.Index(calls, "stop kubelet.service"), strings.Index(calls, "stop containerd.service"); i > j {
		t.Errorf("containerd stopped before the kubelet:\n%s", calls)
	}
	if strings.Contains(calls, "operator.service") {
		t.Errorf("touched a unit install did not make:\n%s", calls)
	}
	for _, unit := range []string{containerd.UnitName, kubelet.UnitName} {
		st, _ := f.sys.Status(context.Background(), unit)
		if st.Active() || st.Enabled() || st.LoadState != "not-found" {
			t.Errorf("%s after uninstall: %+v", unit, st)
		}
	}
	if w := u.Report().Warnings; len(w) != 1 || !strings.Contains(w[0], "Node node1") {
		t.Errorf("warnings = %q, want one about the unreachable API server", w)
	}
}

func TestDryRunListsAndChangesNothing(t *testing.T) {
	f := newFixture(t)
	before := snapshot(t, f.root.Dir)
	res, u, err := f.run(true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, snapshot(t, f.root.Dir)); diff != "" {
		t.Fatalf("dry run changed the host (-before +after):\n%s", diff)
	}
	if n := f.sys.Count("stop") + f.sys.Count("disable") + f.sys.Count("kill") + f.sys.Count("daemon-reload"); n != 0 {
		t.Fatalf("dry run changed systemd: %v", f.sys.Calls())
	}
	if f.ctrs.removed != 0 {
		t.Fatal("dry run removed containers")
	}
	plan := u.Report().Plan
	for step, want := range map[string]string{
		"pods":  "remove 2 containers and sandboxes through containerd",
		"files": "remove /usr/local/bin/kubelet",
		"state": "remove /var/lib/add2tkectl/ (the journal last)",
	} {
		if !contains(plan[step], want) {
			t.Errorf("plan of %s = %q, want %q in it", step, plan[step], want)
		}
	}
	if !contains(plan["files"], "remove /var/lib/kubelet/ and everything in it") {
		t.Errorf("files plan lacks the kubelet root: %q", plan["files"])
	}
	for _, p := range res.Phases {
		if p.Status != phase.StatusPlanned && p.Name != "network" && p.Name != "mounts" {
			t.Errorf("step %s: %s, want planned", p.Name, p.Status)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestSecondUninstallIsANoOp(t *testing.T) {
	f := newFixture(t)
	if _, _, err := f.run(false); err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, f.root.Dir)
	f.sys.ResetCalls()
	res, u, err := f.run(false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed {
		t.Errorf("second uninstall changed something: %+v, plan %v", res, u.Report().Plan)
	}
	for _, p := range res.Phases {
		if p.Status != phase.StatusUnchanged {
			t.Errorf("second run: step %s %s", p.Name, p.Status)
		}
	}
	if diff := cmp.Diff(after, snapshot(t, f.root.Dir)); diff != "" {
		t.Errorf("second uninstall changed the host:\n%s", diff)
	}
	if calls := f.sys.Calls(); len(calls) != 0 {
		t.Errorf("second uninstall called systemd: %v", calls)
	}
}

func TestKeepDataKeepsTheDataDirOnly(t *testing.T) {
	f := newFixture(t)
	if _, _, err := f.run(false, func(d *Deps) { d.KeepData = true }); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(f.root.Path("/var/lib/containerd/io.containerd.content.v1.content/blob")); err != nil || string(b) != "layer" {
		t.Fatalf("data dir not kept: %q %v", b, err)
	}
	for _, p := range []string{"/usr/local/bin/containerd", "/var/lib/kubelet", paths.StateDir} {
		if f.exists(p) {
			t.Errorf("%s kept with --keep-data", p)
		}
	}
}

// A data dir that existed before install (a disk's mount point) stays, and
// so does what else is on it: only the runtime's entries go.
func TestDataDirNotOursLosesOnlyTheRuntimesEntries(t *testing.T) {
	// The disk is mounted at /data/containerd (0751) with its lost+found;
	// install records that, then containerd fills it and makes it 0700.
	f := newFixtureWith(t, fixtureOptions{dataDir: "/data/containerd", before: func(f *fixture) {
		f.write("/data/containerd/lost+found/x", "fsck")
		if err := os.Chmod(f.root.Path("/data/containerd"), 0o751); err != nil {
			t.Fatal(err)
		}
	}})
	f.cfg = testConfig("/data/containerd")
	f.write("/data/containerd/io.containerd.metadata.v1.bolt/meta.db", "bolt")
	f.write("/data/containerd/tmpmounts/.keep", "")
	if err := os.Chmod(f.root.Path("/data/containerd"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.run(false); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(f.root.Path("/data/containerd")); err != nil || st.Mode().Perm() != 0o751 {
		t.Errorf("data dir permissions after uninstall: %v %v, want the recorded 0751", st.Mode(), err)
	}
	if f.exists("/data/containerd/io.containerd.metadata.v1.bolt") || f.exists("/data/containerd/tmpmounts") {
		t.Error("the runtime's data was kept")
	}
	if !f.exists("/data/containerd/lost+found/x") {
		t.Error("an entry that is not the runtime's was removed from a data dir install did not create")
	}
}

func TestChangedFileIsRemovedWithAWarning(t *testing.T) {
	f := newFixture(t)
	f.write("/etc/containerd/config.toml", "edited by the operator\n")
	_, u, err := f.run(false)
	if err != nil {
		t.Fatal(err)
	}
	if f.exists("/etc/containerd/config.toml") {
		t.Error("changed file kept")
	}
	found := false
	for _, w := range u.Report().Warnings {
		found = found || strings.Contains(w, "/etc/containerd/config.toml changed after install")
	}
	if !found {
		t.Errorf("no warning about the changed file: %q", u.Report().Warnings)
	}
}

// A journal that lists a system directory (damaged, or hand-edited) must not
// make uninstall delete it.
func TestProtectedDirectoryInTheJournalIsLeftAlone(t *testing.T) {
	f := newFixture(t)
	bad := phase.Phase{Name: "bad", Run: func(_ context.Context, rec phase.Recorder) error { return rec.Dir("/etc") }}
	if _, err := phase.Run(context.Background(), []phase.Phase{bad}, phase.Options{Root: f.root.Dir}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.run(false); err != nil {
		t.Fatal(err)
	}
	if !f.exists("/etc/fstab") {
		t.Fatal("uninstall deleted /etc because the journal listed it")
	}
}

// After an install killed before it started anything, uninstall removes
// what it had written and does not need the runtime.
func TestUninstallAfterAPartialInstall(t *testing.T) {
	dir := t.TempDir()
	root := host.Root{Dir: dir}
	partial := phase.Phase{Name: "runtime", Run: func(_ context.Context, rec phase.Recorder) error {
		if err := binary.EnsureDir(root, rec, "/etc/containerd", 0o755); err != nil {
			return err
		}
		if _, err := root.WriteFile(rec, "/usr/local/bin/containerd", []byte("bin"), 0o755); err != nil {
			return err
		}
		return errors.New("killed")
	}}
	_, _ = phase.Run(context.Background(), []phase.Phase{partial}, phase.Options{Root: dir})
	j, err := phase.LoadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	sys := systemdtest.NewFake(dir)
	ctrs := &fakeContainers{down: true}
	u := New(Deps{Root: root, Log: quietLog(), Journal: j, Config: testConfig("/var/lib/containerd"), NodeName: "node1",
		Systemd:    func(context.Context) (systemd.Manager, error) { return sys, nil },
		Containers: func(string) component.ContainerRemover { return ctrs },
	})
	if _, err := phase.Run(context.Background(), u.Steps(), phase.Options{Root: dir, NoJournal: true}); err != nil {
		t.Fatal(err)
	}
	got := snapshot(t, dir)
	var paths []string
	for p := range got {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	// What remains is the empty skeleton of parents that are system dirs.
	for _, p := range paths {
		if strings.Contains(p, "containerd") || strings.Contains(p, "add2tkectl") {
			t.Errorf("left behind: %s", p)
		}
	}
}

func TestNodeIsCordonedAndLabelledWithTheNodesCredentials(t *testing.T) {
	f := newFixture(t)
	cs := kubeclienttest.New(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1", Labels: map[string]string{"a": "b"}}})
	var used []string
	_, u, err := f.run(false, func(d *Deps) {
		d.NewClient = func(r host.Root, kubeconfig string, _ time.Duration) (kubeclient.Interface, error) {
			used = append(used, kubeconfig)
			if r.Dir != f.root.Dir {
				t.Errorf("node credentials read under %q, want the root", r.Dir)
			}
			return cs, nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := cs.CoreV1().Nodes().Get(context.Background(), "node1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !n.Spec.Unschedulable || n.Labels[LabelUninstalled] != "true" || n.Labels["a"] != "b" {
		t.Errorf("node after uninstall: unschedulable %v, labels %v", n.Spec.Unschedulable, n.Labels)
	}
	if len(used) != 1 || used[0] != paths.KubeletKubeconfig {
		t.Errorf("clients built from %v, want the kubelet's kubeconfig once", used)
	}
	if len(u.Report().Warnings) != 0 {
		t.Errorf("warnings: %q", u.Report().Warnings)
	}
}

func TestNodeIsDeletedWithAnAdminKubeconfig(t *testing.T) {
	f := newFixture(t)
	cs := kubeclienttest.New(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node1"}})
	deps := func(d *Deps) {
		d.Kubeconfig = "/home/op/admin.conf"
		d.NewClient = func(r host.Root, kubeconfig string, _ time.Duration) (kubeclient.Interface, error) {
			if kubeconfig != "/home/op/admin.conf" || (r.Dir != "/" && r.Dir != "") {
				t.Errorf("client from %s under %q, want the operator's kubeconfig on this machine", kubeconfig, r.Dir)
			}
			return cs, nil
		}
	}
	if _, _, err := f.run(false, deps); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Nodes().Get(context.Background(), "node1", metav1.GetOptions{}); err == nil {
		t.Fatal("Node still there")
	}
	res, _, err := f.run(false, deps)
	if err != nil || res.Changed {
		t.Fatalf("second run with --kubeconfig: changed %v, %v", res.Changed, err)
	}
}

// An uninstall stopped after any step (killed) is completed by the next.
func TestUninstallStoppedAfterAnyStepCompletesNextTime(t *testing.T) {
	for n := 1; n < len(Workflow); n++ {
		f := newFixture(t)
		u := New(f.deps())
		if _, err := phase.Run(context.Background(), u.Steps()[:n], phase.Options{Root: f.root.Dir, NoJournal: true}); err != nil {
			t.Fatalf("first %d steps: %v", n, err)
		}
		if _, _, err := f.run(false); err != nil {
			t.Fatalf("after %d steps: %v", n, err)
		}
		for _, p := range append(append([]string(nil), f.files...), paths.StateDir, "/var/lib/kubelet", "/etc/cni") {
			if f.exists(p) {
				t.Errorf("stopped after %s: %s left", Workflow[n-1].Name, p)
			}
		}
	}
}
