package render

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"

	goldenfile "github.com/add2tkectl/add2tkectl/internal/golden"

	"github.com/google/go-cmp/cmp"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/add2tkectl/add2tkectl/internal/artifacttest"
	"github.com/add2tkectl/add2tkectl/internal/testrec"
	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/preflight"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/containerd"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/docker"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/images"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
	"github.com/add2tkectl/add2tkectl/pkg/userscript"
)

const (
	fakeToken = "abcdef.0123456789abcdef" // FAKE, the one of the kubelet goldens
	nodeIP    = "10.0.1.17"
	script    = "#!/bin/bash\necho hello\n"
)

// fakeCA is the kubelet goldens' CA: the kubeconfig only carries it.
var fakeCA = base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nMIIBFAKE\n-----END CERTIFICATE-----\n"))

// goldenConfig is a pool whose files the components' golden files hold:
// the kubelet's for 1.35 (labels, taints, node IP, cgroup v1), containerd
// 1.7 with CAP_SYS_RESOURCE, cilium-vxlan's modules and sysctls.
func goldenConfig() *config.NodePoolJoin {
	return &config.NodePoolJoin{
		Cluster: config.Cluster{
			ID: "cls-m57oxxxp", KubernetesVersion: "1.35.3", BootstrapToken: fakeToken,
			APIServer: config.APIServer{Endpoint: "https://10.0.0.5:443", CAData: fakeCA},
			Network:   config.Network{Plugin: config.NetworkCiliumVXLAN, PodCIDR: "172.20.0.0/16"},
		},
		NodePool: config.NodePool{
			ID:      "np-3kd9a1bc",
			Runtime: config.Runtime{Kind: config.RuntimeContainerd, Version: "1.7.22", DataDir: "/data/containerd"},
			Labels:  map[string]string{config.LabelLocation: "idc-sh-01", "pool": "a"},
			Taints: []config.Taint{
				{Key: "key1", Value: "value1", Effect: "PreferNoSchedule"},
				{Key: "dedicated", Effect: "NoSchedule"},
			},
			UserScript: script,
		},
	}
}

func options(t *testing.T, c *config.NodePoolJoin) Options {
	return Options{Config: c, Root: host.Root{Dir: t.TempDir()}, NodeIP: nodeIP, CgroupV1: true, CapSysResource: true}
}

// expected is what the components say install writes but binaries: path
// to mode and content, from their own file functions.
func expected(t *testing.T, o Options, arts map[string]string) map[string]host.File {
	t.Helper()
	want := map[string]host.File{}
	add := func(files map[string]host.File, _ []string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for p, f := range files {
			want[p] = f
		}
	}
	c := o.Config
	add(host.NewSettings(o.Root, c.Cluster.Network.Plugin).Files(), nil, nil)
	capf := func() (bool, error) { return o.CapSysResource, nil }
	if c.NodePool.Runtime.Kind == config.RuntimeDocker {
		add(docker.Files(docker.Deps{Deps: component.Deps{Config: c, Artifacts: arts}, CapSysResource: capf}))
	} else {
		add(containerd.Files(containerd.Deps{Deps: component.Deps{Config: c, Artifacts: arts}, CapSysResource: capf}))
	}
	add(kubelet.Files(kubelet.Deps{Deps: component.Deps{Config: c, Artifacts: arts}, NodeIP: o.NodeIP, CgroupV1: o.CgroupV1}))
	if c.NodePool.UserScript != "" {
		want[userscript.ScriptPath] = host.File{Data: []byte(c.NodePool.UserScript), Mode: 0o700}
	}
	return want
}

// tree lists the regular files under root (host paths), but the journal.
func tree(t *testing.T, root string) map[string]host.File {
	t.Helper()
	out := map[string]host.File{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		hp := "/" + filepath.ToSlash(rel)
		if hp == paths.JournalPath {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		out[hp] = host.File{Data: b, Mode: st.Mode().Perm()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func describe(files map[string]host.File) map[string]string {
	out := map[string]string{}
	for p, f := range files {
		sum := sha256.Sum256(f.Data)
		out[p] = fmt.Sprintf("%04o %s", f.Mode.Perm(), hex.EncodeToString(sum[:]))
	}
	return out
}

func listed(res *Result) map[string]string {
	out := map[string]string{}
	for _, f := range res.Files {
		out[f.Path] = f.Mode + " " + f.SHA256
	}
	return out
}

// assertGolden compares a rendered file with a component's golden file.
func assertGolden(t *testing.T, root host.Root, hostPath, golden string) {
	t.Helper()
	got, err := os.ReadFile(root.Path(hostPath))
	if err != nil {
		t.Fatal(err)
	}
	goldenfile.AssertFile(t, golden, got)
}

func TestRenderWritesExactlyWhatInstallsComponentsWrite(t *testing.T) {
	o := options(t, goldenConfig())
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := describe(expected(t, o, nil))
	if diff := cmp.Diff(want, describe(tree(t, o.Root.Dir))); diff != "" {
		t.Errorf("files under the root (-components +rendered):\n%s", diff)
	}
	if diff := cmp.Diff(want, listed(res)); diff != "" {
		t.Errorf("files listed (-components +result):\n%s", diff)
	}
	if _, err := os.Stat(o.Root.Path(kubelet.BinaryPath)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("kubelet binary without --artifacts-dir: %v", err)
	}
	if res.Binaries || !strings.Contains(strings.Join(res.Notes, "\n"), "binaries are not included") {
		t.Errorf("binaries %v, notes %q: want it said that binaries are not included", res.Binaries, res.Notes)
	}

	for p, g := range map[string]string{
		kubelet.ConfigPath:                                       "../kubelet/testdata/containerd/v1.35/config.yaml",
		kubelet.FlagsPath:                                        "../kubelet/testdata/containerd/v1.35/kubelet-flags.env",
		kubelet.BootstrapKubeconfig:                              "../kubelet/testdata/bootstrap-kubelet.conf",
		systemd.UnitPath(kubelet.UnitName):                       "../kubelet/testdata/kubelet.service",
		systemd.DropInPath(kubelet.UnitName, kubelet.DropInName): "../kubelet/testdata/10-add2tkectl.conf.containerd",
		systemd.UnitPath(containerd.UnitName):                    "../runtime/containerd/testdata/containerd.service",
		host.ModulesLoadFile:                                     "../host/testdata/modules-load.conf.golden",
		host.SysctlFile:                                          "../host/testdata/sysctl.conf.golden",
	} {
		assertGolden(t, o.Root, p, g)
	}

	// The journal lists every file under install's phase names, and the units.
	j, err := phase.LoadJournal(o.Root.Dir)
	if err != nil {
		t.Fatal(err)
	}
	var journaled []string
	for _, f := range j.Files() {
		journaled = append(journaled, f.Path)
	}
	var wantPaths []string
	for p := range want {
		wantPaths = append(wantPaths, p)
	}
	slices.Sort(wantPaths)
	if diff := cmp.Diff(wantPaths, journaled); diff != "" {
		t.Errorf("journal files (-written +journaled):\n%s", diff)
	}
	if diff := cmp.Diff([]string{containerd.UnitName, kubelet.UnitName}, j.Units()); diff != "" {
		t.Errorf("journal units:\n%s", diff)
	}
	if diff := cmp.Diff(j.Units(), res.Units); diff != "" {
		t.Errorf("result units:\n%s", diff)
	}
	for _, name := range []string{"host", "runtime", "kubelet", "userscript"} {
		if r := j.Phase(name); r == nil || r.Status != phase.StatusDone {
			t.Errorf("journal phase %s: %+v", name, r)
		}
	}
	if _, ok := j.Values()["kubelet.version"]; ok {
		t.Error("kubelet.version recorded although no kubelet was installed")
	}
}

func TestRenderDockerWithCRIDockerd(t *testing.T) {
	c := goldenConfig()
	c.NodePool.Runtime = config.Runtime{Kind: config.RuntimeDocker, Version: "20.10.24", DataDir: "/data/docker"}
	c.NodePool.UserScript = ""
	o := options(t, c)
	o.CapSysResource = false
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := describe(expected(t, o, nil))
	if _, ok := want[systemd.UnitPath(docker.CRIDockerdService)]; !ok {
		t.Fatalf("the docker component renders no cri-docker.service for 1.35: %v", want)
	}
	if diff := cmp.Diff(want, describe(tree(t, o.Root.Dir))); diff != "" {
		t.Errorf("files under the root (-components +rendered):\n%s", diff)
	}
	for p, g := range map[string]string{
		docker.DaemonJSONPath:                                    "../runtime/docker/testdata/daemon.json-no-sys-resource",
		systemd.UnitPath(docker.DockerSocket):                    "../runtime/docker/testdata/docker.socket",
		systemd.UnitPath(docker.DockerService):                   "../runtime/docker/testdata/docker.service-no-sys-resource",
		systemd.UnitPath(docker.CRIDockerdSocketU):               "../runtime/docker/testdata/cri-docker.socket",
		systemd.DropInPath(kubelet.UnitName, kubelet.DropInName): "../kubelet/testdata/10-add2tkectl.conf.cri-docker",
	} {
		assertGolden(t, o.Root, p, g)
	}
	wantUnits := append(docker.Units(c), kubelet.UnitName)
	slices.Sort(wantUnits)
	if diff := cmp.Diff(wantUnits, res.Units); diff != "" {
		t.Errorf("units (-docker and kubelet +result):\n%s", diff)
	}
}

// TestRenderTouchesNoKernel: an image root with procfs in it (a chroot
// with /proc bind-mounted) keeps every kernel value; fstab's swap is
// commented out as install does, and listed.
func TestRenderTouchesNoKernel(t *testing.T) {
	o := options(t, goldenConfig())
	fixture := map[string]string{
		"/proc/sys/net/ipv4/ip_forward":         "0\n",
		"/proc/sys/net/ipv4/conf/all/rp_filter": "1\n",
		"/proc/sys/vm/overcommit_memory":        "0\n",
		"/proc/swaps":                           "Filename Type Size Used Priority\n/dev/sda3 partition 4194300 0 -2\n",
		"/proc/modules":                         "nf_conntrack 176128 1 - Live 0x0\n",
		"/etc/fstab":                            "UUID=1111 / ext4 defaults 0 1\n/dev/sda3 none swap sw 0 0\n",
	}
	for p, content := range fixture {
		full := o.Root.Path(p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for p, content := range fixture {
		if p == host.Fstab {
			continue
		}
		if got, _ := os.ReadFile(o.Root.Path(p)); string(got) != content {
			t.Errorf("%s = %q, want it untouched (%q)", p, got, content)
		}
	}
	fstab, _ := os.ReadFile(o.Root.Path(host.Fstab))
	if want := "UUID=1111 / ext4 defaults 0 1\n#add2tkectl-swapoff# /dev/sda3 none swap sw 0 0\n"; string(fstab) != want {
		t.Errorf("fstab = %q, want %q", fstab, want)
	}
	if _, ok := listed(res)[host.Fstab]; !ok {
		t.Errorf("fstab edited but not listed: %v", listed(res))
	}
}

// offlineDir makes a signed offline artifacts directory for this
// machine's architecture, with a pause image named as in the goldens, and
// sets the configuration's public key to the one that signed it.
func offlineDir(t *testing.T, c *config.NodePoolJoin) (string, map[string][]byte) {
	t.Helper()
	src := t.TempDir()
	files := map[string]string{
		kubelet.Artifact: artifacttest.Binary(t, src, "kubelet", "v1.35.3"),
		containerd.ArtifactContainerd: artifacttest.TarGz(t, src, "containerd.tar.gz", map[string]string{
			"bin/containerd": "containerd", "bin/containerd-shim-runc-v2": "shim", "bin/ctr": "ctr",
		}),
		containerd.ArtifactRunc:       artifacttest.Binary(t, src, "runc", "1.2.5"),
		containerd.ArtifactCNIPlugins: artifacttest.TarGz(t, src, "cni.tgz", map[string]string{"./bridge": "b", "./loopback": "l"}),
		images.PauseArtifact: artifacttest.TarGz(t, src, "pause.tar", map[string]string{
			"index.json": `{"manifests":[{"annotations":{"io.containerd.image.name":"registry.local/pause:3.10"}}]}`,
		}),
	}
	kinds := map[string]string{kubelet.Artifact: artifact.KindBinary, containerd.ArtifactRunc: artifact.KindBinary, images.PauseArtifact: artifact.KindImage}
	dir := t.TempDir()
	m := artifact.Manifest{SchemaVersion: artifact.SchemaVersion}
	contents := map[string][]byte{}
	for name, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		contents[name] = b
		sum := sha256.Sum256(b)
		kind := kinds[name]
		if kind == "" {
			kind = artifact.KindTarGz
		}
		version := "v1"
		switch name {
		case kubelet.Artifact:
			version = c.Cluster.KubernetesVersion
		case c.NodePool.Runtime.Kind:
			version = c.NodePool.Runtime.Version
		}
		a := artifact.Artifact{Name: name, Version: version, OS: "linux", Arch: goruntime.GOARCH, Kind: kind,
			URLs: []string{"https://example.invalid/" + name}, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
		m.Artifacts = append(m.Artifacts, a)
		if err := os.WriteFile(filepath.Join(dir, artifact.OfflineName(a)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	payload, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, pubPEM, err := artifact.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := artifact.ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	env, err := artifact.Sign(payload, priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, artifact.OfflineManifest), env, 0o600); err != nil {
		t.Fatal(err)
	}
	c.Artifacts.PublicKey = string(pubPEM)
	return dir, contents
}

func TestRenderWithArtifactsDirInstallsBinariesAndTheCache(t *testing.T) {
	c := goldenConfig()
	o := options(t, c)
	dir, contents := offlineDir(t, c)
	o.ArtifactsDir = dir
	res, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Binaries || res.Facts.SandboxImage != "registry.local/pause:3.10" {
		t.Errorf("binaries %v, sandbox image %q", res.Binaries, res.Facts.SandboxImage)
	}
	// With the manifest's pause image, containerd's config is the golden's.
	assertGolden(t, o.Root, containerd.ConfigPath, "../runtime/containerd/testdata/config-1.7.toml")

	got := tree(t, o.Root.Dir)
	for p, want := range map[string]string{
		kubelet.BinaryPath:                string(contents[kubelet.Artifact]),
		containerd.RuncPath:               string(contents[containerd.ArtifactRunc]),
		containerd.BinDir + "/containerd": "containerd",
		containerd.CNIBinDir + "/bridge":  "b",
	} {
		if f, ok := got[p]; !ok || string(f.Data) != want || f.Mode != 0o755 {
			t.Errorf("%s: present %v, mode %v, content %q; want %q 0755", p, ok, f.Mode, f.Data, want)
		}
	}
	if f := got[paths.ManifestPath]; f.Mode != 0o600 {
		t.Errorf("cached manifest mode %v", f.Mode)
	}
	// Every file of the components is there too, and the list is the tree.
	for p, f := range describe(expected(t, o, cachedArtifacts(t, o))) {
		if describe(map[string]host.File{p: got[p]})[p] != f {
			t.Errorf("%s differs from the component's rendering", p)
		}
	}
	if diff := cmp.Diff(describe(got), listed(res)); diff != "" {
		t.Errorf("listed files (-tree +result):\n%s", diff)
	}

	// Install on the booted node takes them as its own: preflight's
	// existing-runtime check finds nothing foreign.
	ours, err := preflight.JournalOwnership(o.Root)
	if err != nil {
		t.Fatal(err)
	}
	check, _ := preflight.Lookup("existing-runtime")
	rep, err := preflight.RunChecks(context.Background(), &preflight.Inputs{Root: o.Root, Config: c, Ours: ours}, []preflight.Check{check}, nil)
	if err != nil {
		t.Errorf("preflight on the rendered root: %v (%+v)", err, rep)
	}

	// A second render writes nothing and lists the same files.
	before := mtimes(t, o.Root.Dir)
	again, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(listed(res), listed(again)); diff != "" {
		t.Errorf("second render lists (-first +second):\n%s", diff)
	}
	after := mtimes(t, o.Root.Dir)
	delete(before, paths.JournalPath)
	delete(after, paths.JournalPath)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("second render rewrote files (-before +after):\n%s", diff)
	}
}

func TestRenderRefusesArtifactsForOtherVersionsThanTheConfiguration(t *testing.T) {
	c := goldenConfig()
	o := options(t, c)
	dir, _ := offlineDir(t, c)
	o.ArtifactsDir = dir
	// The signed directory was made for 1.35.3; the pool now asks another.
	o.Config.Cluster.KubernetesVersion = "1.18.0"
	_, err := Run(context.Background(), o)
	var ae *artifact.Error
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "1.18.0") || !strings.Contains(err.Error(), "1.35.3") {
		t.Fatalf("render = %v, want an artifact error naming both versions", err)
	}
	if _, err := os.Stat(o.Root.Path(kubelet.BinaryPath)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("kubelet binary written from a refused manifest: %v", err)
	}
}

// arts resolves the cached artifacts the way install's cache does, to ask
// the components for their files.
func cachedArtifacts(t *testing.T, o Options) map[string]string {
	t.Helper()
	m, _, err := artifact.LoadOffline(o.ArtifactsDir, o.Config.Artifacts.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, a := range m.Artifacts {
		out[a.Name] = o.Root.Path(filepath.Join(paths.CacheDir, a.SHA256))
	}
	return out
}

func mtimes(t *testing.T, root string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for p := range tree(t, root) {
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		out[p] = st.ModTime().UnixNano()
	}
	return out
}

func TestRenderRefusesTheHostsOwnRoot(t *testing.T) {
	link := filepath.Join(t.TempDir(), "slash")
	if err := os.Symlink("/", link); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"", "/", "//", link} {
		o := options(t, goldenConfig())
		o.Root = host.Root{Dir: dir}
		_, err := Run(context.Background(), o)
		var le *LiveRootError
		if !errors.As(err, &le) || !strings.Contains(err.Error(), "use install") {
			t.Errorf("root %q: %v, want a LiveRootError saying to use install", dir, err)
		}
	}
}

func TestRenderNeedsTheNodeIP(t *testing.T) {
	o := options(t, goldenConfig())
	o.NodeIP = ""
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "--node-ip") {
		t.Errorf("no node IP: %v", err)
	}
	if ents, _ := os.ReadDir(o.Root.Dir); len(ents) != 0 {
		t.Errorf("wrote %d entries before failing", len(ents))
	}
}

// TestInstallAfterRenderRewritesNoRenderedFile: the runtime's and the
// kubelet's Install, given the same facts on the rendered root, find every
// rendered file current (same bytes, same mode, not rewritten) and add only
// binaries and the services' state: render and install are the same code.
func TestInstallAfterRenderRewritesNoRenderedFile(t *testing.T) {
	ctx := context.Background()
	c := goldenConfig()
	o := options(t, c)
	res, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	before := mtimes(t, o.Root.Dir)

	fake := systemdtest.NewFake(o.Root.Dir)
	rec := testrec.New()
	log, _ := logtest.NewNullLogger()
	src := t.TempDir()
	arts := map[string]string{
		kubelet.Artifact: artifacttest.Binary(t, src, "kubelet", "v1.35.3"),
		containerd.ArtifactContainerd: artifacttest.TarGz(t, src, "containerd.tar.gz", map[string]string{
			"bin/containerd": "containerd", "bin/containerd-shim-runc-v2": "shim", "bin/ctr": "ctr",
		}),
		containerd.ArtifactRunc:       artifacttest.Binary(t, src, "runc", "1.2.5"),
		containerd.ArtifactCNIPlugins: artifacttest.TarGz(t, src, "cni.tgz", map[string]string{"./bridge": "b"}),
	}
	if _, err := containerd.Install(ctx, containerd.Deps{
		Deps:           component.Deps{Root: o.Root, Systemd: fake, Log: log, Recorder: rec, Config: c, Artifacts: arts},
		CapSysResource: func() (bool, error) { return o.CapSysResource, nil },
		Ready:          func(context.Context) error { return nil },
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := kubelet.Install(ctx, kubelet.Deps{
		Deps:     component.Deps{Root: o.Root, Systemd: fake, Log: log, Recorder: rec, Config: c, Artifacts: arts},
		NodeIP:   o.NodeIP,
		CgroupV1: o.CgroupV1,
	}); err != nil {
		t.Fatal(err)
	}
	after := mtimes(t, o.Root.Dir)
	for _, f := range res.Files {
		if f.Phase != install.PhaseRuntime && f.Phase != install.PhaseKubelet {
			continue
		}
		if before[f.Path] != after[f.Path] {
			t.Errorf("install rewrote %s, which render had written", f.Path)
		}
	}
	if _, ok := after[kubelet.BinaryPath]; !ok {
		t.Error("install did not add the kubelet binary")
	}
	// The services start from the unit files render wrote.
	for _, want := range []string{"start " + containerd.UnitName, "start " + kubelet.UnitName} {
		if !slices.Contains(fake.Calls(), want) {
			t.Errorf("systemd calls %v lack %q", fake.Calls(), want)
		}
	}
}

// render's phases are install's, in install's order: install and
// uninstall on the node find render's records under the names they use.
func TestRenderPhasesAreInstallsInItsOrder(t *testing.T) {
	got := Workflow.Names()
	if want := install.Workflow.Pick(got...).Names(); !cmp.Equal(got, want) {
		t.Errorf("render phases %v, install's order %v", got, want)
	}
}
