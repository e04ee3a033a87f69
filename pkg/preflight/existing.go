package preflight

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// foreignPrograms are the programs install puts on the host: the same ones
// installed by someone else (a distribution package, an earlier kubeadm)
// would fight ours for the socket, the port and the cgroups.
var foreignPrograms = []struct {
	binary string
	unit   string
}{
	{"kubelet", "kubelet.service"},
	{"containerd", "containerd.service"},
	{"dockerd", "docker.service"},
}

var binaryDirs = []string{"/usr/bin", "/usr/local/bin", "/usr/sbin", "/usr/local/sbin", "/opt/bin"}
var unitDirs = []string{"/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system", "/usr/local/lib/systemd/system", "/run/systemd/system"}

var checkExistingRuntime = Check{
	Name:        "existing-runtime",
	Description: "no kubelet, containerd or docker that add2tkectl did not install",
	Run: func(_ context.Context, in *Inputs) Result {
		var found []string
		for _, prog := range foreignPrograms {
			found = append(found, foreignTraces(in, prog.binary, prog.unit)...)
		}
		if len(found) == 0 {
			return ok("none found, or only what add2tkectl installed")
		}
		return fail("remove them (stop and disable their services, then remove the packages, e.g. apt-get purge containerd docker.io kubelet or yum remove containerd.io docker-ce kubelet); if an earlier add2tkectl installed them, run add2tkectl uninstall; then run install again",
			"found software add2tkectl did not install: %s", strings.Join(found, "; "))
	},
}

// foreignTraces lists binaries, units and running processes of a program
// that are not in the journal.
func foreignTraces(in *Inputs, binary, unit string) []string {
	var out []string
	seen := map[string]bool{} // /lib is often a link to /usr/lib: report a file once
	for _, d := range binaryDirs {
		p := filepath.Join(d, binary)
		if isFile(in.Root.Path(p)) && !in.Ours(p) && !seen[realPath(in, p)] {
			seen[realPath(in, p)] = true
			out = append(out, "binary "+p)
		}
	}
	if !in.Ours(unit) {
		for _, d := range unitDirs {
			p := filepath.Join(d, unit)
			if isFile(in.Root.Path(p)) && !in.Ours(p) && !seen[realPath(in, p)] {
				seen[realPath(in, p)] = true
				out = append(out, "unit "+p)
			}
		}
	}
	for _, proc := range processesNamed(in, binary) {
		if proc.exe != "" && in.Ours(proc.exe) {
			continue
		}
		exe := proc.exe
		if exe == "" {
			exe = binary
		}
		out = append(out, fmt.Sprintf("running %s (pid %d)", exe, proc.pid))
	}
	return out
}

type process struct {
	pid int
	exe string
}

// processesNamed finds running processes by their command name.
func processesNamed(in *Inputs, name string) []process {
	procDir := in.Root.Path("/proc")
	ents, err := os.ReadDir(procDir)
	if err != nil {
		return nil
	}
	var out []process
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(procDir, e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != name {
			continue
		}
		out = append(out, process{pid: pid, exe: processExe(procDir, e.Name())})
	}
	slices.SortFunc(out, func(a, b process) int { return a.pid - b.pid })
	return out
}

func realPath(in *Inputs, p string) string {
	if r, err := filepath.EvalSymlinks(in.Root.Path(p)); err == nil {
		return r
	}
	return p
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
