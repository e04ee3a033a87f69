package preflight

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// KubeletPort is the kubelet's API port, which must be free for it.
const KubeletPort = 10250

var checkPort10250 = Check{
	Name:        "port-10250",
	Description: "the kubelet's port 10250 is free",
	Run: func(_ context.Context, in *Inputs) Result {
		return portFree(in, KubeletPort)
	},
}

// portFree looks for a TCP listener on port in the kernel's socket tables
// and names the process that holds it; one of ours (a kubelet install put
// there on an earlier run) is fine.
func portFree(in *Inputs, port int) Result {
	inodes, err := listeningInodes(in, port)
	if err != nil {
		return warn("check /proc/net/tcp is readable", "cannot read the socket tables: %v", err)
	}
	if len(inodes) == 0 {
		return ok("port %d is free", port)
	}
	pid, exe := socketOwner(in, inodes)
	if exe != "" && in.Ours(exe) {
		return ok("port %d is held by %s (pid %d), installed by add2tkectl", port, exe, pid)
	}
	who := "another process"
	if pid > 0 {
		who = fmt.Sprintf("%s (pid %d)", exe, pid)
	}
	return fail(fmt.Sprintf("stop what listens on port %d (see: ss -ltnp 'sport = :%d'); if it is a kubelet from an earlier installation, uninstall it first", port, port),
		"port %d is in use by %s", port, who)
}

// listeningInodes returns the socket inodes listening on port, from
// /proc/net/tcp and tcp6 (state 0A is LISTEN).
func listeningInodes(in *Inputs, port int) (map[string]bool, error) {
	out := map[string]bool{}
	found := false
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(in.Root.Path(f))
		if err != nil {
			continue
		}
		found = true
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" {
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
				out[fields[9]] = true
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("no /proc/net/tcp")
	}
	return out, nil
}

// socketOwner finds the process holding one of the socket inodes.
func socketOwner(in *Inputs, inodes map[string]bool) (int, string) {
	procDir := in.Root.Path("/proc")
	ents, err := os.ReadDir(procDir)
	if err != nil {
		return 0, ""
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join(procDir, e.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil {
				continue
			}
			inode, ok := strings.CutPrefix(target, "socket:[")
			if ok && inodes[strings.TrimSuffix(inode, "]")] {
				return pid, processExe(procDir, e.Name())
			}
		}
	}
	return 0, ""
}

// processExe is the executable of a process; a binary replaced since it
// started (an upgrade) reads "PATH (deleted)" and still counts as PATH.
func processExe(procDir, pid string) string {
	exe, _ := os.Readlink(filepath.Join(procDir, pid, "exe"))
	return strings.TrimSuffix(exe, " (deleted)")
}
