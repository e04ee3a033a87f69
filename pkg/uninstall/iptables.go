package uninstall

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// OwnedChainPrefixes are the iptables chains created by kubelet, kube-proxy,
// cilium and the CNI plugins; nothing else on the host uses these names.
var OwnedChainPrefixes = []string{"KUBE-", "CILIUM_", "CILIUM-", "CNI-", "OLD_CILIUM_"}

func ownedChain(name string) bool {
	for _, p := range OwnedChainPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// iptablesCleanupScript turns the output of iptables-save into an
// iptables-restore --noflush script that deletes the rules jumping to owned
// chains from the other chains, then flushes and deletes the owned chains.
// It returns "" when there is nothing to do.
func iptablesCleanupScript(save []byte) string {
	var out strings.Builder
	var table string
	var body strings.Builder
	var owned []string
	flush := func() {
		if table == "" || (body.Len() == 0 && len(owned) == 0) {
			return
		}
		fmt.Fprintf(&out, "*%s\n%s", table, body.String())
		for _, c := range owned {
			fmt.Fprintf(&out, "-F %s\n", c)
		}
		for _, c := range owned {
			fmt.Fprintf(&out, "-X %s\n", c)
		}
		out.WriteString("COMMIT\n")
	}
	sc := bufio.NewScanner(bytes.NewReader(save))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "*"):
			flush()
			table, owned = strings.TrimPrefix(line, "*"), nil
			body.Reset()
		case strings.HasPrefix(line, ":"):
			// ":CHAIN POLICY [packets:bytes]"; a line without a name is
			// not one iptables-save writes, and names nothing to remove.
			f := strings.Fields(line[1:])
			if len(f) > 0 && ownedChain(f[0]) && table != "" {
				owned = append(owned, f[0])
			}
		case strings.HasPrefix(line, "-A "):
			f := strings.Fields(line)
			if len(f) < 2 || ownedChain(f[1]) {
				continue // flushed with its chain
			}
			for i := 2; i+1 < len(f); i++ {
				if (f[i] == "-j" || f[i] == "-g") && ownedChain(f[i+1]) {
					body.WriteString("-D " + line[3:] + "\n")
					break
				}
			}
		case line == "COMMIT":
			flush()
			table, owned = "", nil
			body.Reset()
		}
	}
	return out.String()
}

// RemoveIPTablesChains deletes the chains that Kubernetes networking created
// (and the rules that lead to them) in every table, for IPv4 and IPv6. A
// missing iptables binary means there is nothing to clean.
func RemoveIPTablesChains(ctx context.Context) (removed []string, err error) {
	for _, bin := range []string{"iptables", "ip6tables"} {
		save, err := exec.LookPath(bin + "-save")
		if err != nil {
			continue
		}
		restore, err := exec.LookPath(bin + "-restore")
		if err != nil {
			continue
		}
		dump, err := exec.CommandContext(ctx, save).Output()
		if err != nil {
			return removed, fmt.Errorf("%s-save: %w", bin, err)
		}
		script := iptablesCleanupScript(dump)
		if script == "" {
			continue
		}
		cmd := exec.CommandContext(ctx, restore, "--noflush")
		cmd.Stdin = strings.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			return removed, fmt.Errorf("%s-restore: %v: %s", bin, err, strings.TrimSpace(string(out)))
		}
		for _, l := range strings.Split(script, "\n") {
			if strings.HasPrefix(l, "-X ") {
				removed = append(removed, bin+":"+strings.TrimPrefix(l, "-X "))
			}
		}
	}
	return removed, nil
}

// PlanIPTablesChains names the chains RemoveIPTablesChains would delete now.
func PlanIPTablesChains(ctx context.Context) ([]string, error) {
	var out []string
	for _, bin := range []string{"iptables", "ip6tables"} {
		save, err := exec.LookPath(bin + "-save")
		if err != nil {
			continue
		}
		dump, err := exec.CommandContext(ctx, save).Output()
		if err != nil {
			return out, fmt.Errorf("%s-save: %w", bin, err)
		}
		for _, l := range strings.Split(iptablesCleanupScript(dump), "\n") {
			if c, ok := strings.CutPrefix(l, "-X "); ok {
				out = append(out, bin+":"+c)
			}
		}
	}
	return out, nil
}
