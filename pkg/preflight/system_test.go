package preflight

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
)

func write(t *testing.T, root, p, content string) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, root, p string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(root, p)); err != nil {
		t.Fatal(err)
	}
}

func testConfig() *config.NodePoolJoin {
	c := &config.NodePoolJoin{}
	c.Cluster.KubernetesVersion = "1.34.2"
	c.Cluster.APIServer.Endpoint = "https://10.0.0.5:443"
	c.Cluster.Network.Plugin = config.NetworkCiliumVXLAN
	c.Default()
	return c
}

const tcpHeader = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"

// healthyHost is a fixture of a host that passes every local check.
func healthyHost(t *testing.T) *Inputs {
	root := t.TempDir()
	write(t, root, "/proc/sys/kernel/osrelease", "5.15.0-91-generic\n")
	write(t, root, "/proc/sys/kernel/hostname", "idc-sh-01-node-12\n")
	write(t, root, "/proc/1/comm", "systemd\n")
	write(t, root, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n")
	write(t, root, "/proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n")
	write(t, root, "/proc/modules", "overlay 151552 0 - Live 0x0\nbr_netfilter 32768 0 - Live 0x0\nvxlan 94208 0 - Live 0x0\n")
	write(t, root, "/proc/sys/net/bridge/bridge-nf-call-iptables", "1\n")
	write(t, root, "/proc/sys/net/bridge/bridge-nf-call-ip6tables", "1\n")
	write(t, root, "/proc/sys/net/ipv4/ip_forward", "1\n")
	write(t, root, "/proc/sys/net/ipv4/conf/all/rp_filter", "0\n")
	write(t, root, "/proc/meminfo", "MemTotal:        8010960 kB\nMemFree:         1000000 kB\n")
	write(t, root, "/proc/net/tcp", tcpHeader+
		"   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0\n")
	write(t, root, "/etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n")
	if err := os.MkdirAll(filepath.Join(root, "/var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &Inputs{
		Root:      host.Root{Dir: root},
		Config:    testConfig(),
		EUID:      0,
		GOOS:      "linux",
		GOARCH:    "amd64",
		CPUs:      4,
		FreeBytes: func(string) (uint64, error) { return 50 * gib, nil },
		Dialer:    noNetwork{},
		NodeIP:    func(net.IP) (net.IP, error) { return net.ParseIP("10.77.0.11"), nil },
	}
}

// noNetwork keeps unit tests off the machine's network unless a test gives
// its own dialer.
type noNetwork struct{}

func (noNetwork) DialContext(_ context.Context, _, addr string) (net.Conn, error) {
	return nil, fmt.Errorf("dial %s: no network in this test", addr)
}

func runCheck(t *testing.T, c Check, in *Inputs) Result {
	t.Helper()
	rep, _ := RunChecks(context.Background(), in, []Check{c}, nil)
	r := rep.Results[0]
	t.Logf("%s: %s: %s (%s)", r.Name, r.Verdict, r.Message, r.Remediation)
	if r.Verdict != OK && r.Remediation == "" {
		t.Errorf("%s: verdict %s without a remediation sentence", r.Name, r.Verdict)
	}
	return r
}

// Each local check: it passes on the healthy fixture, and each way of
// breaking the host gives the verdict and a message that names the cause.
func TestLocalChecks(t *testing.T) {
	cases := []struct {
		check   Check
		break_  func(t *testing.T, in *Inputs)
		verdict Verdict
		says    string
	}{
		{checkRoot, func(_ *testing.T, in *Inputs) { in.EUID = 1000 }, Error, "user id 1000"},
		{checkOSArch, func(_ *testing.T, in *Inputs) { in.GOARCH = "386" }, Error, "386"},
		{checkOSArch, func(_ *testing.T, in *Inputs) { in.GOOS = "darwin" }, Error, "darwin"},
		{checkKernel, func(t *testing.T, in *Inputs) {
			write(t, in.Root.Dir, "/proc/sys/kernel/osrelease", "2.6.32-754.el6\n")
		}, Error, "older than 3.10"},
		{checkKernel, func(t *testing.T, in *Inputs) {
			write(t, in.Root.Dir, "/proc/sys/kernel/osrelease", "3.10.0-1160.el7.x86_64\n")
		}, Warning, "cilium needs 4.19"},
		{checkSystemd, func(t *testing.T, in *Inputs) { write(t, in.Root.Dir, "/proc/1/comm", "init\n") }, Error, `"init"`},
		{checkCgroup, func(t *testing.T, in *Inputs) {
			remove(t, in.Root.Dir, "/sys/fs/cgroup/cgroup.controllers")
			write(t, in.Root.Dir, "/sys/fs/cgroup/unified/cgroup.controllers", "")
			in.Config.Cluster.KubernetesVersion = "v1.35.4"
		}, Warning, "failCgroupV1"},
		{checkCgroup, func(t *testing.T, in *Inputs) { remove(t, in.Root.Dir, "/sys/fs/cgroup") }, Warning, "cannot tell"},
		{checkSwap, func(t *testing.T, in *Inputs) {
			write(t, in.Root.Dir, "/proc/swaps", "Filename\tType\n/swapfile file 1048572 0 -2\n")
		}, Warning, "/swapfile"},
		{checkKernelModules, func(t *testing.T, in *Inputs) {
			write(t, in.Root.Dir, "/proc/modules", "overlay 1 0 - Live 0x0\n")
			remove(t, in.Root.Dir, "/proc/sys/net/bridge")
		}, Error, "br_netfilter, vxlan"},
		{checkSysctls, func(t *testing.T, in *Inputs) { remove(t, in.Root.Dir, "/proc/sys") }, Error, "kernel settings"},
		{checkCPUMemory, func(t *testing.T, in *Inputs) { write(t, in.Root.Dir, "/proc/meminfo", "MemTotal:  524288 kB\n") }, Warning, "below 1 GiB"},
		{checkCPUMemory, func(_ *testing.T, in *Inputs) { in.CPUs = 0 }, Error, "no usable CPU"},
		{checkDiskSpace, func(_ *testing.T, in *Inputs) {
			in.FreeBytes = func(string) (uint64, error) { return 1 * gib, nil }
		}, Error, "below 2 GiB"},
		{checkDiskSpace, func(_ *testing.T, in *Inputs) {
			in.FreeBytes = func(string) (uint64, error) { return 6 * gib, nil }
		}, Warning, "below the recommended 10 GiB"},
		{checkHostname, func(t *testing.T, in *Inputs) { write(t, in.Root.Dir, "/proc/sys/kernel/hostname", "node_12\n") }, Error, "not a valid Node name"},
		{checkHostname, func(t *testing.T, in *Inputs) { write(t, in.Root.Dir, "/proc/sys/kernel/hostname", "localhost\n") }, Error, "same Node"},
		{checkHostname, func(t *testing.T, in *Inputs) { write(t, in.Root.Dir, "/proc/sys/kernel/hostname", "Node-12.IDC\n") }, Warning, `"node-12.idc"`},
		{checkHostname, func(t *testing.T, in *Inputs) {
			write(t, in.Root.Dir, "/proc/sys/kernel/hostname", strings.Repeat("a", 64)+"."+strings.Repeat("b", 200)+"\n")
		}, Error, "not a valid"},
		{checkPort10250, func(t *testing.T, in *Inputs) {
			write(t, in.Root.Dir, "/proc/net/tcp6", tcpHeader+
				"   0: 00000000000000000000000000000000:280A 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n")
		}, Error, "port 10250 is in use"},
	}
	for _, c := range cases {
		t.Run(c.check.Name+"/"+c.says, func(t *testing.T) {
			in := healthyHost(t)
			if r := runCheck(t, c.check, in); r.Verdict != OK {
				t.Fatalf("on the healthy fixture: %s %q, want ok", r.Verdict, r.Message)
			}
			c.break_(t, in)
			r := runCheck(t, c.check, in)
			if r.Verdict != c.verdict || !strings.Contains(r.Message, c.says) {
				t.Errorf("got %s %q; want %s saying %q", r.Verdict, r.Message, c.verdict, c.says)
			}
		})
	}
}

func TestSystemdDetectedByRunDirectory(t *testing.T) {
	in := healthyHost(t)
	write(t, in.Root.Dir, "/proc/1/comm", "systemd-nspawn-wrapper\n")
	if err := os.MkdirAll(filepath.Join(in.Root.Dir, "/run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r := runCheck(t, checkSystemd, in); r.Verdict != OK {
		t.Errorf("with /run/systemd/system: %s %q, want ok", r.Verdict, r.Message)
	}
}

func TestKernelModulesLoadableIsOK(t *testing.T) {
	in := healthyHost(t)
	write(t, in.Root.Dir, "/proc/modules", "overlay 1 0 - Live 0x0\n")
	remove(t, in.Root.Dir, "/proc/sys/net/bridge")
	write(t, in.Root.Dir, "/lib/modules/5.15.0-91-generic/modules.dep",
		"kernel/net/bridge/br_netfilter.ko: kernel/net/bridge/bridge.ko\nkernel/drivers/net/vxlan/vxlan.ko:\n")
	r := runCheck(t, checkKernelModules, in)
	if r.Verdict != OK || !strings.Contains(r.Message, "install will load: br_netfilter, vxlan") {
		t.Errorf("got %s %q; want ok naming the modules install loads", r.Verdict, r.Message)
	}
	// cilium-bgp needs no vxlan.
	in.Config.Cluster.Network.Plugin = config.NetworkCiliumBGP
	if r := runCheck(t, checkKernelModules, in); strings.Contains(r.Message, "vxlan") {
		t.Errorf("cilium-bgp: %q mentions vxlan", r.Message)
	}
}

func TestSysctlsReportsWhatInstallChanges(t *testing.T) {
	in := healthyHost(t)
	write(t, in.Root.Dir, "/proc/sys/net/ipv4/ip_forward", "0\n")
	r := runCheck(t, checkSysctls, in)
	if r.Verdict != OK || !strings.Contains(r.Message, "net.ipv4.ip_forward=1 (now 0)") {
		t.Errorf("got %s %q", r.Verdict, r.Message)
	}
}

func TestDiskSpaceMeasuresTheFilesystemTheDirWillBeOn(t *testing.T) {
	in := healthyHost(t)
	in.Config.NodePool.Runtime.DataDir = "/data/containerd" // /data does not exist yet
	var asked []string
	in.FreeBytes = func(dir string) (uint64, error) {
		rel, _ := filepath.Rel(in.Root.Dir, dir)
		asked = append(asked, filepath.Join("/", rel))
		return statfsFree(dir) // the real statfs of the temp dir
	}
	r := runCheck(t, checkDiskSpace, in)
	if len(asked) != 2 || asked[0] != "/" || asked[1] != "/var/lib" {
		t.Errorf("measured %q; want / (nearest existing parent of /data/containerd) and /var/lib", asked)
	}
	if r.Verdict == Error && !strings.Contains(r.Message, "below") {
		t.Errorf("real statfs failed: %q", r.Message)
	}
}

func TestKernelVersion(t *testing.T) {
	for rel, want := range map[string][2]int{
		"3.10.0-1160.el7.x86_64":   {3, 10},
		"5.14.0-362.8.1.el9_3":     {5, 14},
		"6.18.44-fc-v595":          {6, 18},
		"4.19.91-27.an8.x86_64":    {4, 19},
		"5.4.241-1-tlinux4-0017":   {5, 4},
		"6.1.0-18-cloud-amd64":     {6, 1},
		"4.18.0-553.el8_10.x86_64": {4, 18},
	} {
		ma, mi, err := kernelVersion(rel)
		if err != nil || ma != want[0] || mi != want[1] {
			t.Errorf("kernelVersion(%q) = %d.%d, %v; want %d.%d", rel, ma, mi, err, want[0], want[1])
		}
	}
	if _, _, err := kernelVersion("linux"); err == nil {
		t.Error("kernelVersion(linux) parsed")
	}
}

// All failures are reported at once; --ignore-preflight-errors turns the
// named ones (or all) into warnings; an unknown name is refused.
func TestRunReportsEveryFailureAndHonoursIgnore(t *testing.T) {
	broken := func() *Inputs {
		in := healthyHost(t)
		in.EUID = 1000
		write(t, in.Root.Dir, "/proc/1/comm", "init\n")
		write(t, in.Root.Dir, "/proc/sys/kernel/hostname", "Bad_Name\n")
		write(t, in.Root.Dir, "/proc/swaps", "Filename\tType\n/swapfile file 1 0 -2\n")
		return in
	}
	local := []Check{checkRoot, checkOSArch, checkKernel, checkSystemd, checkSwap, checkHostname}

	rep, err := RunChecks(context.Background(), broken(), local, nil)
	var fe *FailedError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want *FailedError", err)
	}
	var names []string
	for _, f := range fe.Failed {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "root,systemd,hostname" {
		t.Errorf("failed checks = %s, want root,systemd,hostname", got)
	}
	if len(rep.Results) != len(local) {
		t.Errorf("report has %d results, want all %d", len(rep.Results), len(local))
	}
	if rep.Results[4].Verdict != Warning {
		t.Errorf("swap: %s, want a warning that does not fail the run", rep.Results[4].Verdict)
	}
	msg := err.Error()
	for _, want := range []string{"3 preflight check(s) failed", "root: ", "systemd: ", "hostname: ", "--ignore-preflight-errors=root,systemd,hostname", "fix: "} {
		if !strings.Contains(msg, want) {
			t.Errorf("error message lacks %q:\n%s", want, msg)
		}
	}

	rep, err = RunChecks(context.Background(), broken(), local, []string{"root,Systemd", "hostname"})
	if err != nil {
		t.Errorf("with the failures ignored by name: %v", err)
	}
	for _, r := range rep.Results {
		if r.Verdict == Error && !r.Ignored {
			t.Errorf("%s still fails", r.Name)
		}
	}
	if !rep.Results[0].Ignored {
		t.Errorf("root not marked ignored: %+v", rep.Results[0])
	}

	_, err = RunChecks(context.Background(), broken(), local, []string{"root"})
	if !errors.As(err, &fe) || len(fe.Failed) != 2 {
		t.Errorf("ignoring root only: %v, want systemd and hostname still failing", err)
	}
	if _, err := RunChecks(context.Background(), broken(), local, []string{"all"}); err != nil {
		t.Errorf("--ignore-preflight-errors=all: %v", err)
	}
	var ue *UnknownCheckError
	if _, err := RunChecks(context.Background(), broken(), local, []string{"swapp"}); !errors.As(err, &ue) || ue.Name != "swapp" {
		t.Errorf("unknown check name: %v, want *UnknownCheckError", err)
	}
}

func TestACrashingCheckFailsAloneAndNamed(t *testing.T) {
	boom := Check{Name: "boom", Run: func(context.Context, *Inputs) Result { panic("nil map") }}
	rep, err := RunChecks(context.Background(), healthyHost(t), []Check{checkRoot, boom}, nil)
	var fe *FailedError
	if !errors.As(err, &fe) || len(fe.Failed) != 1 || fe.Failed[0].Name != "boom" {
		t.Fatalf("err = %v", err)
	}
	if rep.Results[0].Verdict != OK || !strings.Contains(rep.Results[1].Message, "nil map") {
		t.Errorf("results = %+v", rep.Results)
	}
}

func TestCheckNamesAreUniqueAndDescribed(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Checks() {
		if seen[c.Name] || c.Name == IgnoreAll || c.Description == "" || c.Run == nil {
			t.Errorf("check %q: duplicate, reserved or undescribed", c.Name)
		}
		seen[c.Name] = true
		if _, ok := Lookup(c.Name); !ok {
			t.Errorf("Lookup(%s) failed", c.Name)
		}
	}
}
