package site

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/add2tkectl/add2tkectl/internal/golden"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
)

func TestNoProxyListsWhatNeverGoesThroughAProxy(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Proxy
		n    Node
		want []string
	}{
		{
			name: "built-ins first, then the operator's",
			p:    Proxy{HTTP: "http://proxy:3128", NoProxy: []string{".idc.example", "10.1.0.0/16"}},
			n:    Node{APIServerEndpoint: "https://10.0.0.5:443", NodeIP: "10.0.1.17", PodCIDR: "172.20.0.0/16"},
			want: []string{"localhost", "127.0.0.1", "::1", "10.0.0.5", "10.0.1.17", "172.20.0.0/16", ".svc", ".cluster.local", ".idc.example", "10.1.0.0/16"},
		},
		{
			name: "duplicates kept once, without case, blanks dropped",
			p:    Proxy{NoProxy: []string{"LOCALHOST", " 10.0.0.5 ", "", ".svc", "a.example", "A.example"}},
			n:    Node{APIServerEndpoint: "https://10.0.0.5:6443", NodeIP: "10.0.0.5", PodCIDR: "172.20.0.0/16"},
			want: []string{"localhost", "127.0.0.1", "::1", "10.0.0.5", "172.20.0.0/16", ".svc", ".cluster.local", "a.example"},
		},
		{
			name: "an IPv6 endpoint without brackets, a service CIDR, no node IP",
			n:    Node{APIServerEndpoint: "https://[fd00::5]:6443", PodCIDR: "fd10::/56", ServiceCIDR: "fd20::/108"},
			want: []string{"localhost", "127.0.0.1", "::1", "fd00::5", "fd10::/56", "fd20::/108", ".svc", ".cluster.local"},
		},
		{
			name: "an endpoint without a scheme",
			n:    Node{APIServerEndpoint: "10.0.0.5:6443"},
			want: []string{"localhost", "127.0.0.1", "::1", "10.0.0.5", ".svc", ".cluster.local"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := NoProxy(tc.p, tc.n)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("NoProxy (-want +got):\n%s", diff)
			}
			if again := NoProxy(tc.p, tc.n); !cmp.Equal(got, again) {
				t.Errorf("a second call gave another order: %v, then %v", got, again)
			}
		})
	}
}

func TestEnvSetsEachVariableInBothCases(t *testing.T) {
	none := Proxy{NoProxy: []string{"a.example"}}
	if env := none.Env([]string{"localhost"}); env != nil {
		t.Errorf("no proxy configured: Env = %v, want none", env)
	}
	got := Proxy{HTTPS: "http://proxy:3128"}.Env([]string{"localhost", "10.0.0.5"})
	want := []EnvVar{
		{"HTTPS_PROXY", "http://proxy:3128"}, {"https_proxy", "http://proxy:3128"},
		{"NO_PROXY", "localhost,10.0.0.5"}, {"no_proxy", "localhost,10.0.0.5"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("only an HTTPS proxy (-want +got):\n%s", diff)
	}
}

func goldenNode() Node {
	return NodeOf(&config.NodePoolJoin{Cluster: config.Cluster{
		APIServer: config.APIServer{Endpoint: "https://10.0.0.5:443"},
		Network:   config.Network{PodCIDR: "172.20.0.0/16"},
	}}, "10.0.1.17")
}

func TestRenderDropIn(t *testing.T) {
	p := Proxy{HTTP: "http://10.0.0.2:3128", HTTPS: "http://10.0.0.2:3128", NoProxy: []string{".idc.example"}}
	b, err := RenderDropIn(p, goldenNode())
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, DropInName, b)
	systemdtest.Verify(t, map[string][]byte{
		systemd.UnitPath("x.service"): []byte("[Service]\nExecStart=/usr/bin/x\n"),
		DropInPath("x.service"):       b,
	})
	if b, err := RenderDropIn(Proxy{NoProxy: []string{"a"}}, goldenNode()); err != nil || b != nil {
		t.Errorf("no proxy: RenderDropIn = %q, %v; want nothing", b, err)
	}
}

// TestRenderDropInQuotesForSystemd: a password with a percent-encoded
// character, a quote and a backslash arrives as given (systemd unquotes
// "..." and turns %% back into %), and a newline is refused.
func TestRenderDropInQuotesForSystemd(t *testing.T) {
	p := Proxy{HTTP: `http://user:p%40ss"w\rd@proxy:3128`}
	b, err := RenderDropIn(p, Node{})
	if err != nil {
		t.Fatal(err)
	}
	want := `Environment="HTTP_PROXY=http://user:p%%40ss\"w\\rd@proxy:3128"`
	if !strings.Contains(string(b), want+"\n") {
		t.Errorf("drop-in lacks %s:\n%s", want, b)
	}
	if _, err := RenderDropIn(Proxy{HTTP: "http://proxy:3128\nExecStart=/bin/sh"}, Node{}); err == nil {
		t.Error("a proxy URL with a newline was rendered")
	}
}

func TestDropInsRemoveWhatNoProxyAsksFor(t *testing.T) {
	n := goldenNode()
	files, absent, err := DropIns(nil, n, "a.service", "b.service")
	if err != nil || len(files) != 0 {
		t.Fatalf("no settings: files %v, %v", files, err)
	}
	if want := []string{"/etc/systemd/system/a.service.d/add2tkectl-proxy.conf", "/etc/systemd/system/b.service.d/add2tkectl-proxy.conf"}; !cmp.Equal(absent, want) {
		t.Errorf("no settings: absent %v, want %v", absent, want)
	}
	s := &Settings{Proxy: Proxy{HTTP: "http://proxy:3128"}}
	files, absent, err = DropIns(s, n, "a.service")
	if err != nil || len(absent) != 0 || len(files) != 1 {
		t.Fatalf("a proxy: files %v, absent %v, %v", files, absent, err)
	}
	if f := files[DropInPath("a.service")]; f.Mode != 0o644 || !strings.Contains(string(f.Data), "NO_PROXY=") {
		t.Errorf("a proxy: drop-in mode %v:\n%s", f.Mode, f.Data)
	}
	s.Proxy.HTTPS = "http://user:secret@proxy:3128"
	files, _, _ = DropIns(s, n, "a.service")
	if f := files[DropInPath("a.service")]; f.Mode != 0o600 {
		t.Errorf("a proxy URL with a password: drop-in mode %v, want 0600", f.Mode)
	}
}

// TestProxyFuncKeepsNoProxyDirect: the site's proxy carries what is not
// in NoProxy's list, by scheme; the API server, the operator's domains and
// CIDRs go direct; without a site proxy the environment decides.
func TestProxyFuncKeepsNoProxyDirect(t *testing.T) {
	p := Proxy{HTTP: "http://10.0.0.2:3128", HTTPS: "http://10.0.0.3:3128", NoProxy: []string{".idc.example", "10.9.0.0/16"}}
	f := p.ProxyFunc(Node{APIServerEndpoint: "https://10.0.0.5:443", NodeIP: "10.0.1.17"})
	for raw, want := range map[string]string{
		"https://cos.ap-guangzhou.myqcloud.com/m.json": "http://10.0.0.3:3128",
		"http://mirror.example.com/x":                  "http://10.0.0.2:3128",
		"https://10.0.0.5:443/version":                 "",
		"http://cos.idc.example/x":                     "",
		"http://10.9.3.4/x":                            "",
		"http://10.0.1.17:10250/healthz":               "",
	} {
		req, _ := http.NewRequest(http.MethodGet, raw, nil)
		u, err := f(req)
		got := ""
		if u != nil {
			got = u.String()
		}
		if err != nil || got != want {
			t.Errorf("%s: proxy %q, %v; want %q", raw, got, err, want)
		}
	}
	t.Setenv("HTTPS_PROXY", "http://env-proxy:8080")
	req, _ := http.NewRequest(http.MethodGet, "https://cos.example.com/x", nil)
	if u, err := (Proxy{}).ProxyFunc(Node{})(req); err != nil || u == nil || u.Host != "env-proxy:8080" {
		t.Errorf("no site proxy: %v, %v; want the environment's", u, err)
	}
}
