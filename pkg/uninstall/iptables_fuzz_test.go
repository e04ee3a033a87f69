package uninstall

import (
	"strings"
	"testing"
)

// A ":" line without a chain name is not what iptables-save writes, but a
// damaged or foreign dump must not crash uninstall.
func TestCleanupScriptIgnoresABareColonLine(t *testing.T) {
	in := "*nat\n:\n: \n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n"
	want := "*nat\n-D PREROUTING -j KUBE-SERVICES\n-F KUBE-SERVICES\n-X KUBE-SERVICES\nCOMMIT\n"
	if got := iptablesCleanupScript([]byte(in)); got != want {
		t.Fatalf("script:\n%s\nwant:\n%s", got, want)
	}
}

// FuzzIPTablesCleanupScript: any input yields a script that only deletes
// rules the input has, and flushes and deletes only owned chains it
// declares; never a panic. The seeds run with the unit tests.
func FuzzIPTablesCleanupScript(f *testing.F) {
	for _, s := range []string{
		sampleSave, ":", ":\n", "*nat\n:\nCOMMIT\n", "*\n:KUBE-X - [0:0]\nCOMMIT\n",
		"*filter\n: \n-A\n-A \n-A X -j\n-A X -j KUBE-Y\nCOMMIT\n",
		"-A FORWARD -j KUBE-X\n:KUBE-X\n", "*nat\n:KUBE-A - [0:0]\n*filter\n:CILIUM_X\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, save []byte) {
		in := map[string]bool{}
		declared := map[string]bool{}
		for _, l := range strings.Split(string(save), "\n") {
			l = strings.TrimSuffix(l, "\r")
			in[l] = true
			if fs := strings.Fields(strings.TrimPrefix(l, ":")); strings.HasPrefix(l, ":") && len(fs) > 0 {
				declared[fs[0]] = true
			}
		}
		out := iptablesCleanupScript(save)
		if out == "" {
			return
		}
		if !strings.HasSuffix(out, "COMMIT\n") {
			t.Fatalf("script does not end with COMMIT:\n%s", out)
		}
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			switch {
			case l == "COMMIT", strings.HasPrefix(l, "*"):
			case strings.HasPrefix(l, "-D "):
				if !in["-A "+l[3:]] {
					t.Fatalf("deletes a rule the input does not have: %q", l)
				}
			case strings.HasPrefix(l, "-F "), strings.HasPrefix(l, "-X "):
				if c := l[3:]; !ownedChain(c) || !declared[c] {
					t.Fatalf("flushes or deletes a chain not owned or not declared: %q", l)
				}
			default:
				t.Fatalf("unexpected line %q in:\n%s", l, out)
			}
		}
	})
}
