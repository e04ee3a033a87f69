package host

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// KernelRelease is `uname -r`, read from procfs under the root so that a
// test can aim it at a fixture.
func (r Root) KernelRelease() (string, error) {
	b, err := os.ReadFile(r.Path("/proc/sys/kernel/osrelease"))
	if err != nil {
		return "", fmt.Errorf("kernel release: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Hostname is the kernel's host name (what kubelet takes for the Node name).
func (r Root) Hostname() (string, error) {
	b, err := os.ReadFile(r.Path("/proc/sys/kernel/hostname"))
	if err != nil {
		return "", fmt.Errorf("hostname: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// OSRelease returns the fields of /etc/os-release (or /usr/lib/os-release).
func (r Root) OSRelease() (map[string]string, error) {
	var b []byte
	var err error
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if b, err = os.ReadFile(r.Path(p)); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("os-release: %w", err)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		out[k] = strings.Trim(v, `"'`)
	}
	return out, nil
}

// CgroupMode is how the cgroup hierarchy is mounted.
type CgroupMode string

const (
	CgroupV1      CgroupMode = "v1"
	CgroupV2      CgroupMode = "v2"
	CgroupHybrid  CgroupMode = "hybrid" // v1 controllers, v2 at unified/ for systemd only
	CgroupUnknown CgroupMode = "unknown"
)

// Cgroup detects the cgroup mode from sysfs under the root. Hybrid counts as
// v1 for the kubelet: its controllers are on v1.
func (r Root) Cgroup() CgroupMode {
	switch {
	case exists(r.Path("/sys/fs/cgroup/cgroup.controllers")):
		return CgroupV2
	case exists(r.Path("/sys/fs/cgroup/unified/cgroup.controllers")):
		return CgroupHybrid
	case exists(r.Path("/sys/fs/cgroup/memory")), exists(r.Path("/sys/fs/cgroup/cpu")):
		return CgroupV1
	}
	return CgroupUnknown
}

// ActiveSwaps lists the swap devices or files in use (/proc/swaps).
func (r Root) ActiveSwaps() ([]string, error) {
	b, err := os.ReadFile(r.Path("/proc/swaps"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no swap support in this kernel
	}
	if err != nil {
		return nil, fmt.Errorf("read swaps: %w", err)
	}
	var out []string
	lines := strings.Split(string(b), "\n")
	for _, l := range lines[1:] { // the first line is a header
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, f[0])
		}
	}
	return out, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
