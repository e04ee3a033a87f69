package host

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

// SysctlFile persists the kernel settings across reboots (systemd-sysctl).
const SysctlFile = "/etc/sysctl.d/99-add2tkectl.conf"

// Sysctl is one kernel setting.
type Sysctl struct{ Key, Value string }

// Sysctls are the settings a node needs, the standard Kubernetes values:
// bridged pod traffic goes through iptables and the host forwards packets.
// Cilium also needs reverse-path filtering off (the kernel takes the maximum
// of "all" and the device's value, so "all" must be 0), as its own
// 99-zzz-override_cilium.conf sets.
func Sysctls(plugin string) []Sysctl {
	s := []Sysctl{
		{"net.bridge.bridge-nf-call-iptables", "1"},
		{"net.bridge.bridge-nf-call-ip6tables", "1"},
		{"net.ipv4.ip_forward", "1"},
	}
	if plugin == config.NetworkCiliumVXLAN || plugin == config.NetworkCiliumBGP {
		s = append(s, Sysctl{"net.ipv4.conf.all.rp_filter", "0"})
	}
	return s
}

// RenderSysctl is the content of SysctlFile.
func RenderSysctl(s []Sysctl) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by add2tkectl: kernel settings a Kubernetes node needs. Removed by uninstall.\n")
	for _, kv := range s {
		fmt.Fprintf(&b, "%s = %s\n", kv.Key, kv.Value)
	}
	return b.Bytes()
}

// sysctlPath is where key lives in procfs.
func sysctlPath(key string) string {
	return "/proc/sys/" + strings.ReplaceAll(key, ".", "/")
}

// ReadSysctl returns the current value of a kernel setting; ok is false when
// the kernel does not have it (e.g. br_netfilter not loaded).
func (r Root) ReadSysctl(key string) (value string, ok bool, err error) {
	b, err := os.ReadFile(r.Path(sysctlPath(key)))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read sysctl %s: %w", key, err)
	}
	return strings.Join(strings.Fields(string(b)), " "), true, nil
}

// writeSysctl sets a kernel setting now. procfs files are not regular
// files: they are written in place, never through a temp file and rename.
func (r Root) writeSysctl(key, value string) error {
	f, err := os.OpenFile(r.Path(sysctlPath(key)), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("set sysctl %s: %w (is /proc/sys writable? run as root)", key, err)
	}
	if _, err := f.WriteString(value + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("set sysctl %s=%s: %w", key, value, err)
	}
	return f.Close()
}
