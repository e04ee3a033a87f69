package preflight

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
)

var checkRoot = Check{
	Name:        "root",
	Description: "running as root",
	Run: func(_ context.Context, in *Inputs) Result {
		if in.EUID != 0 {
			return fail("run it as root, e.g. with sudo",
				"running as user id %d; install writes system files and starts services", in.EUID)
		}
		return ok("running as root")
	},
}

var checkOSArch = Check{
	Name:        "os-arch",
	Description: "Linux on amd64 or arm64",
	Run: func(_ context.Context, in *Inputs) Result {
		osName := "unknown distribution"
		if rel, err := in.Root.OSRelease(); err == nil && rel["PRETTY_NAME"] != "" {
			osName = rel["PRETTY_NAME"]
		}
		if in.GOOS != "linux" {
			return fail("run it on a Linux host", "the operating system is %s, not linux", in.GOOS)
		}
		if in.GOARCH != "amd64" && in.GOARCH != "arm64" {
			return fail("use an amd64 or arm64 host", "the architecture is %s; nodes are amd64 or arm64", in.GOARCH)
		}
		return ok("%s/%s, %s", in.GOOS, in.GOARCH, osName)
	},
}

var checkKernel = Check{
	Name:        "kernel",
	Description: "kernel 3.10 or newer (4.19 or newer for cilium)",
	Run: func(_ context.Context, in *Inputs) Result {
		rel, err := in.Root.KernelRelease()
		if err != nil {
			return fail("make /proc available", "cannot read the kernel release: %v", err)
		}
		major, minor, err := kernelVersion(rel)
		if err != nil {
			return fail("run a Linux kernel 4.19 or newer", "cannot parse the kernel release %q: %v", rel, err)
		}
		switch {
		case major < 3 || major == 3 && minor < 10:
			return fail("upgrade the kernel to 4.19 or newer", "kernel %s is older than 3.10, which Kubernetes needs", rel)
		case major < 4 || major == 4 && minor < 19:
			return warn("upgrade the kernel to 4.19 or newer (5.10+ recommended) before relying on cilium",
				"kernel %s: Kubernetes runs, but cilium needs 4.19 or newer", rel)
		}
		return ok("kernel %s", rel)
	},
}

var kernelRE = regexp.MustCompile(`^(\d+)\.(\d+)`)

// kernelVersion parses the major.minor of a release like 5.14.0-362.el9.x86_64.
func kernelVersion(rel string) (int, int, error) {
	m := kernelRE.FindStringSubmatch(rel)
	if m == nil {
		return 0, 0, fmt.Errorf("no major.minor")
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	return major, minor, nil
}

var checkSystemd = Check{
	Name:        "systemd",
	Description: "systemd is the service manager (PID 1)",
	Run: func(_ context.Context, in *Inputs) Result {
		comm, _ := os.ReadFile(in.Root.Path("/proc/1/comm"))
		if strings.TrimSpace(string(comm)) == "systemd" {
			return ok("systemd is PID 1")
		}
		if st, err := os.Stat(in.Root.Path("/run/systemd/system")); err == nil && st.IsDir() {
			return ok("systemd is running (/run/systemd/system)")
		}
		return fail("use a host booted with systemd; the runtime and kubelet run as systemd services",
			"PID 1 is %q, not systemd", strings.TrimSpace(string(comm)))
	},
}

var checkCgroup = Check{
	Name:        "cgroup",
	Description: "cgroup version (reported; kubelet >= 1.35 on v1 needs failCgroupV1: false)",
	Run: func(_ context.Context, in *Inputs) Result {
		mode := in.Root.Cgroup()
		v, _ := config.ParseKubernetesVersion(in.Config.Cluster.KubernetesVersion)
		minor := v.Minor
		switch mode {
		case host.CgroupV2:
			return ok("cgroup v2 (unified); cgroup driver systemd")
		case host.CgroupV1, host.CgroupHybrid:
			if minor >= 35 {
				return warn("nothing to do now; plan a move to cgroup v2 (systemd.unified_cgroup_hierarchy=1), which later kubelets will require",
					"cgroup %s: kubelet 1.%d refuses cgroup v1 unless failCgroupV1 is false, which install sets", mode, minor)
			}
			return ok("cgroup %s; cgroup driver systemd", mode)
		}
		return warn("mount the cgroup filesystem at /sys/fs/cgroup (systemd does this at boot)",
			"cannot tell the cgroup version: nothing recognisable under /sys/fs/cgroup")
	},
}

var checkSwap = Check{
	Name:        "swap",
	Description: "swap is off (install turns it off)",
	Run: func(_ context.Context, in *Inputs) Result {
		swaps, err := in.Root.ActiveSwaps()
		if err != nil {
			return warn("check /proc/swaps", "cannot read the swap state: %v", err)
		}
		if len(swaps) > 0 {
			return warn("nothing to do: install runs swapoff -a and comments the swap lines of /etc/fstab out (uninstall restores them)",
				"swap is on (%s); the kubelet needs it off", strings.Join(swaps, ", "))
		}
		return ok("swap is off")
	},
}

var checkKernelModules = Check{
	Name:        "kernel-modules",
	Description: "kernel modules overlay, br_netfilter (and vxlan for cilium-vxlan) loaded or loadable",
	Run: func(_ context.Context, in *Inputs) Result {
		var loaded, loadable, missing []string
		for _, m := range host.KernelModules(in.Config.Cluster.Network.Plugin) {
			switch in.Root.Module(m) {
			case host.ModuleLoaded:
				loaded = append(loaded, m)
			case host.ModuleLoadable:
				loadable = append(loadable, m)
			default:
				missing = append(missing, m)
			}
		}
		if len(missing) > 0 {
			return fail("install the kernel modules package of the running kernel (e.g. kernel-modules-$(uname -r) or linux-modules-extra-$(uname -r)), or use a kernel with them built in",
				"kernel modules %s are neither loaded nor available in /lib/modules", strings.Join(missing, ", "))
		}
		msg := "loaded: " + strings.Join(loaded, ", ")
		if len(loadable) > 0 {
			msg += "; install will load: " + strings.Join(loadable, ", ")
		}
		return ok("%s", msg)
	},
}

var checkSysctls = Check{
	Name:        "sysctls",
	Description: "kernel settings install sets (reported)",
	Run: func(_ context.Context, in *Inputs) Result {
		if _, err := os.Stat(in.Root.Path("/proc/sys")); err != nil {
			return fail("make /proc/sys available (mount procfs)", "cannot see kernel settings: %v", err)
		}
		var change []string
		for _, kv := range host.Sysctls(in.Config.Cluster.Network.Plugin) {
			v, present, err := in.Root.ReadSysctl(kv.Key)
			if err != nil {
				return warn("check that /proc/sys is readable", "%v", err)
			}
			if !present {
				change = append(change, kv.Key+"="+kv.Value+" (after its module loads)")
			} else if v != kv.Value {
				change = append(change, fmt.Sprintf("%s=%s (now %s)", kv.Key, kv.Value, v))
			}
		}
		if len(change) > 0 {
			return ok("install will set %s", strings.Join(change, ", "))
		}
		return ok("already set")
	},
}

const gib = 1 << 30

var checkCPUMemory = Check{
	Name:        "cpu-memory",
	Description: "at least 1 CPU and 1 GiB of memory",
	Run: func(_ context.Context, in *Inputs) Result {
		mem, err := memTotal(in.Root.Path("/proc/meminfo"))
		if err != nil {
			return warn("check /proc/meminfo", "cannot read the memory size: %v", err)
		}
		if in.CPUs < 1 {
			return fail("give the host at least one CPU", "no usable CPU")
		}
		if mem < gib {
			return warn("give the host at least 2 GiB of memory: the kubelet, the runtime and cilium need about 1 GiB together",
				"%d CPU(s), %.2f GiB of memory: below 1 GiB", in.CPUs, float64(mem)/gib)
		}
		return ok("%d CPU(s), %.1f GiB of memory", in.CPUs, float64(mem)/gib)
	},
}

func memTotal(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no MemTotal in %s", path)
}

// rfc1123Subdomain is what the API accepts as a Node name.
var rfc1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

var checkHostname = Check{
	Name:        "hostname",
	Description: "the hostname is a valid Node name (RFC 1123 subdomain)",
	Run: func(_ context.Context, in *Inputs) Result {
		name, err := in.Root.Hostname()
		if err != nil {
			return fail("make /proc available", "cannot read the hostname: %v", err)
		}
		const remedy = "set a hostname of lowercase letters, digits, '-' and '.', e.g. hostnamectl set-hostname idc-sh-01-node-12"
		lower := strings.ToLower(name)
		switch {
		case name == "":
			return fail(remedy, "the hostname is empty")
		case len(name) > 253 || !rfc1123Subdomain.MatchString(lower):
			return fail(remedy, "hostname %q is not a valid Node name (RFC 1123 subdomain)", name)
		case lower == "localhost" || strings.HasPrefix(lower, "localhost."):
			return fail(remedy, "hostname %q: every host would register as the same Node", name)
		case lower != name:
			return warn("set a lowercase hostname to match the Node name", "hostname %q has upper case; the Node will be named %q", name, lower)
		}
		return ok("Node name %s", name)
	},
}
