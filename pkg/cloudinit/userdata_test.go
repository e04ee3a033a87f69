package cloudinit

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/add2tkectl/add2tkectl/internal/golden"
	"github.com/add2tkectl/add2tkectl/pkg/firstboot"
)

var good = Params{
	URL:    "http://mirror.internal/tke/add2tkectl-cls-m57oxxxp-np-3kd9a1bc",
	SHA256: strings.Repeat("0123456789abcdef", 4),
	Name:   "add2tkectl-cls-m57oxxxp-np-3kd9a1bc",
}

func TestUserDataMatchesGolden(t *testing.T) {
	b, err := Render(good)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "user-data.golden", b)
}

// TestUserDataCarriesTheUnitAndAStrictFetch reads the YAML as cloud-init
// will: the unit is the rendered one, the one runcmd script stops at the
// first failure and verifies before anything is made executable or run.
func TestUserDataCarriesTheUnitAndAStrictFetch(t *testing.T) {
	b, err := Render(good)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "#cloud-config\n") {
		t.Fatalf("user-data does not start with #cloud-config")
	}
	var doc document
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	unit, _ := firstboot.RenderUnit(good.Name)
	if len(doc.WriteFiles) != 1 || doc.WriteFiles[0].Path != firstboot.UnitPath || doc.WriteFiles[0].Content != string(unit) {
		t.Fatalf("write_files %+v: want the rendered unit at %s", doc.WriteFiles, firstboot.UnitPath)
	}
	if len(doc.Runcmd) != 1 {
		t.Fatalf("runcmd has %d entries: runcmd reports only the last one's status, so it must be one script", len(doc.Runcmd))
	}
	s := doc.Runcmd[0]
	order := []string{"set -eu", "curl ", "--retry-all-errors", good.URL, "sha256sum --check", "exit 1", "chmod 0700", "mv -f", "systemctl enable", "systemctl start --no-block " + firstboot.UnitName}
	at := 0
	for _, w := range order {
		i := strings.Index(s[at:], w)
		if i < 0 {
			t.Fatalf("runcmd lacks %q after byte %d:\n%s", w, at, s)
		}
		at += i
	}
	if !strings.Contains(s, good.SHA256) {
		t.Fatal("runcmd does not check the sha256")
	}
}

func TestParamsRefuseSecretsAndShellSyntax(t *testing.T) {
	for name, mut := range map[string]func(*Params){
		"not http":          func(p *Params) { p.URL = "ftp://mirror/x" },
		"relative":          func(p *Params) { p.URL = "/x" },
		"credentials":       func(p *Params) { p.URL = "http://u:p@mirror/x" },
		"presigned query":   func(p *Params) { p.URL = "https://b.cos/x?q-signature=abc" },
		"quote":             func(p *Params) { p.URL = "http://mirror/x'$(reboot)'" },
		"short sha256":      func(p *Params) { p.SHA256 = "abc" },
		"not hex":           func(p *Params) { p.SHA256 = strings.Repeat("zz", 32) },
		"name with a slash": func(p *Params) { p.Name = "../bin/sh" },
	} {
		p := good
		mut(&p)
		if _, err := Render(p); err == nil {
			t.Errorf("%s: %+v accepted", name, p)
		}
	}
	for _, u := range []string{"https://mirror.internal:8443/a/b", "http://10.0.0.9/add2tkectl-cls-a-np-b"} {
		p := good
		p.URL = u
		if err := p.Check(); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
}

// shippedNote heads packaging/cloud-init/user-data.yaml, the example the
// packages carry: what it is and how to make the real one.
const shippedNote = `# An example, not for use as it is: its sha256 is a placeholder. Make your
# pool's user-data with ` + "`add2tkectl-<clusterID>-<nodePoolID> cloud-init --url URL`" + `,
# URL being where your mirror serves that bundled binary.
`

// TestShippedUserDataIsTheCommandsOutput: the example the project ships is
// what the command renders (after its note), so it never drifts from it.
func TestShippedUserDataIsTheCommandsOutput(t *testing.T) {
	b, err := Render(good)
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := strings.Cut(string(b), "\n")
	golden.AssertFile(t, "../../packaging/cloud-init/user-data.yaml", []byte(first+"\n"+shippedNote+rest))
}
