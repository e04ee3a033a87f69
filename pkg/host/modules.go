package host

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

// ModulesLoadFile persists the modules across reboots (systemd-modules-load).
const ModulesLoadFile = "/etc/modules-load.d/add2tkectl.conf"

// KernelModules are the modules a node needs: overlay for the runtime's
// snapshots, br_netfilter so bridged traffic passes iptables, and vxlan for
// cilium's overlay network.
func KernelModules(plugin string) []string {
	mods := []string{"overlay", "br_netfilter"}
	if plugin == config.NetworkCiliumVXLAN {
		mods = append(mods, "vxlan")
	}
	return mods
}

// RenderModulesLoad is the content of ModulesLoadFile.
func RenderModulesLoad(mods []string) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by add2tkectl: kernel modules a Kubernetes node needs. Removed by uninstall.\n")
	for _, m := range mods {
		b.WriteString(m + "\n")
	}
	return b.Bytes()
}

// ModuleState says whether a kernel module is there or can be.
type ModuleState string

const (
	ModuleLoaded   ModuleState = "loaded"   // active now (loaded or built in)
	ModuleLoadable ModuleState = "loadable" // in modules.dep, modprobe will load it
	ModuleMissing  ModuleState = "missing"
)

// Module reports the state of a kernel module, from procfs and sysfs under
// the root and the module index of the running kernel. A module built into
// the kernel counts as loaded.
func (r Root) Module(name string) ModuleState {
	name = strings.ReplaceAll(name, "-", "_")
	if r.moduleActive(name) {
		return ModuleLoaded
	}
	rel, err := r.KernelRelease()
	if err != nil {
		return ModuleMissing
	}
	dir := path.Join("/lib/modules", rel)
	if indexHas(r.Path(path.Join(dir, "modules.builtin")), name, false) {
		return ModuleLoaded
	}
	if indexHas(r.Path(path.Join(dir, "modules.dep")), name, true) {
		return ModuleLoadable
	}
	return ModuleMissing
}

func (r Root) moduleActive(name string) bool {
	if b, err := os.ReadFile(r.Path("/proc/modules")); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 0 && f[0] == name {
				return true
			}
		}
	}
	if exists(r.Path("/sys/module/" + name)) {
		return true
	}
	// Built-in modules without parameters leave no trace in /sys/module;
	// what they provide does.
	switch name {
	case "br_netfilter":
		return exists(r.Path("/proc/sys/net/bridge/bridge-nf-call-iptables"))
	case "overlay":
		return fileHasField(r.Path("/proc/filesystems"), "overlay")
	}
	return false
}

// indexHas looks for kernel/.../name.ko[.xz|.zst|.gz] in a modules.builtin
// or modules.dep file (dep lines are "path: deps").
func indexHas(file, name string, dep bool) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		p := sc.Text()
		if dep {
			p, _, _ = strings.Cut(p, ":")
		}
		base := path.Base(strings.TrimSpace(p))
		for _, ext := range []string{".xz", ".zst", ".gz"} {
			base = strings.TrimSuffix(base, ext)
		}
		if strings.ReplaceAll(strings.TrimSuffix(base, ".ko"), "-", "_") == name {
			return true
		}
	}
	return false
}

func fileHasField(file, field string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		for _, f := range strings.Fields(l) {
			if f == field {
				return true
			}
		}
	}
	return false
}

// Command runs a program on the host; exec in production.
type Command func(ctx context.Context, name string, args ...string) ([]byte, error)

// loadModule loads a module with modprobe.
func loadModule(ctx context.Context, run Command, name string) error {
	out, err := run(ctx, "modprobe", name)
	if err != nil {
		return fmt.Errorf("load kernel module %s: %w: %s (install the kernel's module package, e.g. linux-modules-$(uname -r), or build it in)", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}
