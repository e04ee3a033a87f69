package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/internal/golden"

	"github.com/google/go-cmp/cmp"
	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/config"
)

// memRecorder is an in-memory journal.
type memRecorder struct {
	files map[string]string
	sets  map[string]string
	order []string
}

func newMemRecorder() *memRecorder {
	return &memRecorder{files: map[string]string{}, sets: map[string]string{}}
}

func (m *memRecorder) File(p, sum string) error {
	m.files[p] = sum
	m.order = append(m.order, "file "+p)
	return nil
}
func (m *memRecorder) Dir(p string) error  { m.order = append(m.order, "dir "+p); return nil }
func (m *memRecorder) Unit(n string) error { m.order = append(m.order, "unit "+n); return nil }
func (m *memRecorder) Set(k, v string) error {
	m.sets[k] = v
	m.order = append(m.order, "set "+k)
	return nil
}

func writeFixture(t *testing.T, root, p, content string) {
	t.Helper()
	full := filepath.Join(root, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, root, p string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, p))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const fstabWithSwap = `# /etc/fstab: static file system information.
UUID=1111 /     ext4 errors=remount-ro 0 1
/dev/sdb1 /data xfs  defaults          0 2
UUID=2222 none  swap sw                0 0
#/swapfile none swap sw 0 0
/swapfile none  swap defaults          0 0
`

const swapsOn = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/sda3 partition 4194300 0 -2\n"
const swapsOff = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"

// bareHost is a CentOS-like host before install: overlay loaded, br_netfilter
// and vxlan available as modules (so the bridge sysctls do not exist yet),
// forwarding off, strict rp_filter, swap on and in fstab.
func bareHost(t *testing.T) string {
	root := t.TempDir()
	writeFixture(t, root, "/proc/sys/kernel/osrelease", "5.14.0-test\n")
	writeFixture(t, root, "/proc/modules", "overlay 151552 0 - Live 0x0\nnf_conntrack 176128 1 - Live 0x0\n")
	writeFixture(t, root, "/lib/modules/5.14.0-test/modules.dep",
		"kernel/net/bridge/br_netfilter.ko.xz: kernel/net/bridge/bridge.ko.xz\nkernel/drivers/net/vxlan/vxlan.ko.xz: kernel/net/ipv4/udp_tunnel.ko.xz\n")
	writeFixture(t, root, "/proc/sys/net/ipv4/ip_forward", "0\n")
	writeFixture(t, root, "/proc/sys/net/ipv4/conf/all/rp_filter", "1\n")
	writeFixture(t, root, "/proc/swaps", swapsOn)
	writeFixture(t, root, "/etc/fstab", fstabWithSwap)
	return root
}

// kernelCommands acts like modprobe/swapoff/swapon on the fixture: loading
// br_netfilter makes the bridge sysctls appear, as the kernel does.
type kernelCommands struct {
	root  string
	calls []string
	t     *testing.T
}

func (k *kernelCommands) run(_ context.Context, name string, args ...string) ([]byte, error) {
	call := strings.Join(append([]string{name}, args...), " ")
	k.calls = append(k.calls, call)
	switch {
	case name == "modprobe" && len(args) == 1:
		f, err := os.OpenFile(filepath.Join(k.root, "/proc/modules"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(f, "%s 32768 0 - Live 0x0\n", args[0])
		f.Close()
		if args[0] == "br_netfilter" {
			writeFixture(k.t, k.root, "/proc/sys/net/bridge/bridge-nf-call-iptables", "0\n")
			writeFixture(k.t, k.root, "/proc/sys/net/bridge/bridge-nf-call-ip6tables", "0\n")
		}
	case call == "swapoff -a":
		writeFixture(k.t, k.root, "/proc/swaps", swapsOff)
	case call == "swapon -a":
		writeFixture(k.t, k.root, "/proc/swaps", swapsOn)
	default:
		return []byte("unknown command"), fmt.Errorf("exit status 1")
	}
	return nil, nil
}

func liveSettings(t *testing.T, root string) (*Settings, *kernelCommands) {
	k := &kernelCommands{root: root, t: t}
	s := NewSettings(Root{Dir: root}, config.NetworkCiliumVXLAN)
	s.Live = true
	s.Run = k.run
	log := logrus.New()
	log.SetOutput(testWriter{t})
	s.Log = log
	return s, k
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func TestSettingsApplyIdempotentAndRevertRoundTrip(t *testing.T) {
	root := bareHost(t)
	s, k := liveSettings(t, root)
	ctx := context.Background()

	if ok, err := s.Satisfied(ctx); err != nil || ok {
		t.Fatalf("Satisfied on a bare host = %v, %v; want false", ok, err)
	}
	rec := newMemRecorder()
	changed, err := s.Apply(ctx, rec)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	t.Logf("changed: %q", changed)

	if want := []string{"modprobe br_netfilter", "modprobe vxlan", "swapoff -a"}; !slices.Equal(k.calls, want) {
		t.Errorf("commands = %q, want %q", k.calls, want)
	}
	for key, want := range map[string]string{
		"net/bridge/bridge-nf-call-iptables":  "1\n",
		"net/bridge/bridge-nf-call-ip6tables": "1\n",
		"net/ipv4/ip_forward":                 "1\n",
		"net/ipv4/conf/all/rp_filter":         "0\n",
	} {
		if got := readFile(t, root, "/proc/sys/"+key); got != want {
			t.Errorf("/proc/sys/%s = %q, want %q", key, got, want)
		}
	}
	golden.Assert(t, "modules-load.conf.golden", []byte(readFile(t, root, ModulesLoadFile)))
	golden.Assert(t, "sysctl.conf.golden", []byte(readFile(t, root, SysctlFile)))
	golden.Assert(t, "fstab.swapoff.golden", []byte(readFile(t, root, Fstab)))

	// The journal: our two files are owned (uninstall deletes them); fstab
	// is only edited and must never be listed as a file of ours.
	gotFiles := slices.Sorted(mapKeys(rec.files))
	if want := []string{ModulesLoadFile, SysctlFile}; !slices.Equal(gotFiles, want) {
		t.Errorf("journal files = %v, want %v", gotFiles, want)
	}
	wantSets := map[string]string{
		"host.module.br_netfilter":                             "loaded",
		"host.module.vxlan":                                    "loaded",
		"host.sysctl.net.bridge.bridge-nf-call-iptables":       "0",
		"host.sysctl.net.bridge.bridge-nf-call-ip6tables":      "0",
		"host.sysctl.net.ipv4.ip_forward":                      "0",
		"host.sysctl.net.ipv4.conf.all.rp_filter":              "1",
		fstabKey("UUID=2222 none  swap sw                0 0"): "UUID=2222 none  swap sw                0 0",
		fstabKey("/swapfile none  swap defaults          0 0"): "/swapfile none  swap defaults          0 0",
		"host.swapoff": "/dev/sda3",
	}
	sets := maps(rec.sets)
	fstabSum, _ := Root{Dir: root}.FileSHA256(Fstab)
	if sets["host.edited:/etc/fstab"] != fstabSum {
		t.Errorf("journal host.edited:/etc/fstab = %q, want the edited file's sha256 %q", sets["host.edited:/etc/fstab"], fstabSum)
	}
	delete(sets, "host.edited:/etc/fstab")
	if d := cmp.Diff(wantSets, sets); d != "" {
		t.Errorf("journal facts (-want +got):\n%s", d)
	}

	// Second run: satisfied, nothing done, the recorded originals intact.
	if ok, err := s.Satisfied(ctx); err != nil || !ok {
		t.Fatalf("Satisfied after Apply = %v, %v; want true", ok, err)
	}
	k.calls = nil
	rec2 := newMemRecorder()
	changed, err = s.Apply(ctx, rec2)
	if err != nil || len(changed) != 0 || len(k.calls) != 0 {
		t.Errorf("second Apply changed %q, ran %q, err %v; want nothing", changed, k.calls, err)
	}
	if len(rec2.sets) != 0 {
		t.Errorf("second Apply recorded facts %v; it must not overwrite the originals", rec2.sets)
	}

	// Uninstall: back to the bare host, byte for byte in fstab.
	if err := s.Revert(ctx, rec.sets); err != nil {
		t.Fatalf("Revert: %v", err)
	}
	if got := readFile(t, root, Fstab); got != fstabWithSwap {
		t.Errorf("fstab after Revert differs from the original:\n%s", cmp.Diff(fstabWithSwap, got))
	}
	for _, p := range []string{ModulesLoadFile, SysctlFile} {
		if _, err := os.Stat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s still there after Revert (%v)", p, err)
		}
	}
	for key, want := range map[string]string{"net/ipv4/ip_forward": "0\n", "net/ipv4/conf/all/rp_filter": "1\n", "net/bridge/bridge-nf-call-iptables": "0\n"} {
		if got := readFile(t, root, "/proc/sys/"+key); got != want {
			t.Errorf("after Revert /proc/sys/%s = %q, want the original %q", key, got, want)
		}
	}
	if got := readFile(t, root, "/proc/swaps"); got != swapsOn {
		t.Errorf("swap not turned back on after Revert: %q", got)
	}
	if k.calls[len(k.calls)-1] != "swapon -a" {
		t.Errorf("last command = %q, want swapon -a", k.calls[len(k.calls)-1])
	}
	// Revert is idempotent.
	if err := s.Revert(ctx, rec.sets); err != nil {
		t.Fatalf("second Revert: %v", err)
	}
	if got := readFile(t, root, Fstab); got != fstabWithSwap {
		t.Errorf("second Revert changed fstab")
	}
}

func TestRevertLeavesASysctlSomeoneChangedSince(t *testing.T) {
	root := bareHost(t)
	s, _ := liveSettings(t, root)
	rec := newMemRecorder()
	if _, err := s.Apply(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	writeFixture(t, root, "/proc/sys/net/ipv4/conf/all/rp_filter", "2\n") // an operator's choice
	if err := s.Revert(context.Background(), rec.sets); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, root, "/proc/sys/net/ipv4/conf/all/rp_filter"); got != "2\n" {
		t.Errorf("rp_filter = %q after Revert, want the operator's 2 kept", got)
	}
	if got := readFile(t, root, "/proc/sys/net/ipv4/ip_forward"); got != "0\n" {
		t.Errorf("ip_forward = %q after Revert, want the original 0", got)
	}
}

func TestApplyRefusesAMissingModule(t *testing.T) {
	root := bareHost(t)
	writeFixture(t, root, "/lib/modules/5.14.0-test/modules.dep", "kernel/net/bridge/bridge.ko.xz:\n")
	s, k := liveSettings(t, root)
	_, err := s.Apply(context.Background(), newMemRecorder())
	if err == nil || !strings.Contains(err.Error(), "br_netfilter") {
		t.Fatalf("Apply with br_netfilter missing: err = %v, want one naming br_netfilter", err)
	}
	if len(k.calls) != 0 {
		t.Errorf("ran %q before refusing", k.calls)
	}
}

func TestApplyIntoADirectoryStartsNothing(t *testing.T) {
	root := t.TempDir()
	writeFixture(t, root, "/etc/fstab", fstabWithSwap)
	s := NewSettings(Root{Dir: root}, config.NetworkCiliumBGP)
	if s.Live {
		t.Fatal("settings for a directory root are live")
	}
	s.Run = func(_ context.Context, name string, args ...string) ([]byte, error) {
		t.Errorf("ran %s %v while rendering into a directory", name, args)
		return nil, nil
	}
	rec := newMemRecorder()
	if _, err := s.Apply(context.Background(), rec); err != nil {
		t.Fatalf("Apply into a directory: %v", err)
	}
	if got := readFile(t, root, ModulesLoadFile); strings.Contains(got, "vxlan") {
		t.Errorf("cilium-bgp modules list vxlan:\n%s", got)
	}
	if got := readFile(t, root, SysctlFile); !strings.Contains(got, "rp_filter = 0") {
		t.Errorf("cilium sysctls lack rp_filter:\n%s", got)
	}
	if !strings.Contains(readFile(t, root, Fstab), fstabMarker+"/swapfile") {
		t.Errorf("fstab swap not disabled")
	}
}

func TestModuleState(t *testing.T) {
	root := t.TempDir()
	writeFixture(t, root, "/proc/sys/kernel/osrelease", "6.1.0-test\n")
	writeFixture(t, root, "/proc/modules", "nf_nat 61440 1 - Live 0x0\n")
	writeFixture(t, root, "/lib/modules/6.1.0-test/modules.builtin", "kernel/fs/overlayfs/overlay.ko\n")
	writeFixture(t, root, "/lib/modules/6.1.0-test/modules.dep", "kernel/drivers/net/vxlan/vxlan.ko.zst: kernel/net/ipv4/udp_tunnel.ko.zst\n")
	writeFixture(t, root, "/sys/module/ip_vs/parameters/conn_tab_bits", "12\n")
	writeFixture(t, root, "/proc/sys/net/bridge/bridge-nf-call-iptables", "1\n")
	r := Root{Dir: root}
	for name, want := range map[string]ModuleState{
		"nf_nat":       ModuleLoaded,   // /proc/modules
		"ip_vs":        ModuleLoaded,   // /sys/module
		"overlay":      ModuleLoaded,   // built in
		"br_netfilter": ModuleLoaded,   // built in without parameters: its sysctl shows
		"vxlan":        ModuleLoadable, // modules.dep, compressed
		"nbd":          ModuleMissing,
	} {
		if got := r.Module(name); got != want {
			t.Errorf("Module(%s) = %s, want %s", name, got, want)
		}
	}
}

func TestCgroupSwapsOSRelease(t *testing.T) {
	for _, c := range []struct {
		file string
		want CgroupMode
	}{
		{"/sys/fs/cgroup/cgroup.controllers", CgroupV2},
		{"/sys/fs/cgroup/unified/cgroup.controllers", CgroupHybrid},
		{"/sys/fs/cgroup/memory/memory.limit_in_bytes", CgroupV1},
		{"/sys/nothing", CgroupUnknown},
	} {
		root := t.TempDir()
		writeFixture(t, root, c.file, "")
		if got := (Root{Dir: root}).Cgroup(); got != c.want {
			t.Errorf("with %s: Cgroup = %s, want %s", c.file, got, c.want)
		}
	}
	root := bareHost(t)
	r := Root{Dir: root}
	if got, err := r.ActiveSwaps(); err != nil || !slices.Equal(got, []string{"/dev/sda3"}) {
		t.Errorf("ActiveSwaps = %v, %v", got, err)
	}
	writeFixture(t, root, "/etc/os-release", "NAME=\"CentOS Linux\"\nVERSION_ID=\"7\"\n# comment\nID=centos\n")
	if got, err := r.OSRelease(); err != nil || got["ID"] != "centos" || got["VERSION_ID"] != "7" {
		t.Errorf("OSRelease = %v, %v", got, err)
	}
}

func TestFstabSwapLines(t *testing.T) {
	edited, lines := DisableFstabSwap([]byte(fstabWithSwap))
	if len(lines) != 2 {
		t.Fatalf("disabled %d lines, want 2 (the commented /swapfile line is not active): %q", len(lines), lines)
	}
	again, more := DisableFstabSwap(edited)
	if len(more) != 0 || string(again) != string(edited) {
		t.Errorf("DisableFstabSwap is not idempotent: %q", more)
	}
	restored, n := RestoreFstabSwap(edited)
	if n != 2 || string(restored) != fstabWithSwap {
		t.Errorf("RestoreFstabSwap restored %d lines:\n%s", n, restored)
	}
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func maps(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestPhaseIsSatisfiedAfterItsRun(t *testing.T) {
	root := bareHost(t)
	s, _ := liveSettings(t, root)
	p := s.Work()
	ctx := context.Background()
	if ok, _ := p.Satisfied(ctx); ok {
		t.Fatal("bare host satisfied")
	}
	if err := p.Run(ctx, newMemRecorder()); err != nil {
		t.Fatal(err)
	}
	if ok, err := p.Satisfied(ctx); !ok || err != nil {
		t.Errorf("after Run: satisfied %v, %v", ok, err)
	}
}
