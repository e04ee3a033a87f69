package debug

import (
	"context"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/add2tkectl/add2tkectl/pkg/firstboot"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/containerd"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/docker"
	"github.com/add2tkectl/add2tkectl/pkg/site"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/userscript"
)

// Entry names in the archive.
const (
	IndexName    = "index.json"
	ManifestName = "MANIFEST.txt"
	StatusName   = "status.json"
	VersionName  = "version.txt"
	ConfigName   = "config-error.txt"
	filesDir     = "files"
	commandsDir  = "commands"
)

// cloudInitLogs are cloud-init's logs, on a host it booted.
var cloudInitLogs = []string{"/var/log/cloud-init.log", "/var/log/cloud-init-output.log"}

// versionBinaries are the executables asked for their --version: the
// kubelet's and every runtime's, where installed.
var versionBinaries = []string{
	kubelet.BinaryPath,
	containerd.Binaries[0],
	docker.BinDir + "/dockerd",
	docker.BinDir + "/cri-dockerd",
}

// plan lists what a collection takes, most telling first, so that a run
// cut by its timeout or the total cap still has the status, the journal
// and the logs.
func plan(d *Deps) []source {
	var ss []source
	seen := map[string]bool{}
	file := func(p string, optional bool) {
		if seen[p] {
			return
		}
		seen[p] = true
		ss = append(ss, source{name: path.Join(filesDir, p), path: p, tail: isLog(p), optional: optional})
	}
	command := func(name string, host bool, args ...string) {
		ss = append(ss, source{name: path.Join(commandsDir, name), cmd: args, host: host})
	}

	ss = append(ss, source{name: VersionName, fnSource: "add2tkectl version", fn: func(context.Context) ([]byte, error) {
		return []byte(d.Version + "\n"), nil
	}})
	if d.ConfigError != nil {
		err := d.ConfigError
		ss = append(ss, source{name: ConfigName, fnSource: "the configuration", fn: func(context.Context) ([]byte, error) {
			return []byte(err.Error() + "\n"), nil
		}})
	}
	if d.Status != nil {
		ss = append(ss, source{name: StatusName, fnSource: "add2tkectl status -o json", fn: d.Status, timeout: d.StatusTimeout})
	} else {
		ss = append(ss, source{fnSource: "add2tkectl status -o json", omit: "no status on this root"})
	}

	// add2tkectl's own state and log: the journal, stamps, manifest,
	// first-boot result; install's log.
	file(paths.JournalPath, false)
	for _, p := range filesUnder(d.Root, paths.StateDir) {
		file(p, false)
	}
	file(paths.LogPath, false)
	for _, p := range filesUnder(d.Root, paths.LogDir) {
		file(p, false)
	}

	// The user script's log and result: the components' logs.
	file(userscript.ResultPath, false)
	for _, c := range d.Components.All() {
		for _, l := range c.Footprint().Logs {
			file(l, true)
		}
	}

	// The units: their state and recent journal lines.
	j, jerr := phase.LoadJournal(d.Root.Dir)
	if jerr != nil {
		j = &phase.Journal{}
	}
	units := unitsOf(d, j)
	for _, u := range units {
		command("systemctl-show-"+u+".txt", true, "systemctl", "show", u, "--no-pager")
	}
	for _, u := range units {
		command("journalctl-"+u+".txt", true, "journalctl", "-u", u, "-n", strconv.Itoa(JournalLines), "--no-pager", "-o", "short-iso")
	}

	// The rendered configuration: every text file the journal lists (the
	// binaries are omitted as such), the units' drop-ins, the kubelet's
	// own kubeconfig, the first-boot unit, the site file.
	for _, f := range j.Files() {
		if f.Path == userscript.ScriptPath {
			seen[f.Path] = true
			ss = append(ss, source{path: f.Path, omit: "the pool's user script may hold the user's own secrets, which no pattern knows (its sha256 is " + f.SHA256 + ")"})
			continue
		}
		file(f.Path, false)
	}
	for _, u := range units {
		for _, p := range globUnder(d.Root, systemd.DropInPath(u, "*.conf")) {
			file(p, false)
		}
	}
	file(paths.KubeletKubeconfig, true)
	file(firstboot.UnitPath, true)
	file(site.Path, true)

	// Versions.
	for _, b := range versionBinaries {
		if !exists(d.Root.Path(b)) {
			continue
		}
		command(path.Base(b)+"-version.txt", false, d.Root.Path(b), "--version")
	}

	// The host.
	command("uname.txt", true, "uname", "-a")
	file("/etc/os-release", false)
	file("/proc/self/mountinfo", false)
	command("ip-addr.txt", true, "ip", "addr")
	command("ip-route.txt", true, "ip", "route", "show", "table", "all")
	command("ip-6-route.txt", true, "ip", "-6", "route", "show", "table", "all")
	command("iptables-save.txt", true, "iptables-save")
	for _, p := range cloudInitLogs {
		file(p, true)
	}
	return ss
}

// unitsOf lists the units worth asking about: every component's, the
// first-boot unit, and any the journal lists, sorted.
func unitsOf(d *Deps, j *phase.Journal) []string {
	set := map[string]bool{firstboot.UnitName: true}
	for _, c := range d.Components.All() {
		for _, u := range c.Footprint().Units {
			set[u.Name] = true
		}
	}
	for _, u := range j.Units() {
		set[u] = true
	}
	out := make([]string, 0, len(set))
	for u := range set {
		if u != "" && !strings.ContainsAny(u, "/ ") {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}
