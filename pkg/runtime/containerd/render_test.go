package containerd

import (
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/add2tkectl/add2tkectl/internal/golden"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
)

func TestRenderConfigPerContainerdVersion(t *testing.T) {
	for _, tc := range []struct {
		golden   string
		version  string
		restrict bool
		// path of keys that must hold want in the parsed TOML
		checks map[string]any
	}{
		{"config-1.7.toml", "1.7.22", false, map[string]any{
			"version": int64(2),
			"plugins/io.containerd.grpc.v1.cri/sandbox_image":                                  "registry.local/pause:3.10",
			"plugins/io.containerd.grpc.v1.cri/restrict_oom_score_adj":                         false,
			"plugins/io.containerd.grpc.v1.cri/containerd/runtimes/runc/options/SystemdCgroup": true,
			"plugins/io.containerd.grpc.v1.cri/cni/bin_dir":                                    "/opt/cni/bin",
			"plugins/io.containerd.grpc.v1.cri/cni/conf_dir":                                   "/etc/cni/net.d",
			"plugins/io.containerd.grpc.v1.cri/containerd/runtimes/runc/runtime_type":          "io.containerd.runc.v2",
			"root": "/data/containerd",
			"plugins/io.containerd.grpc.v1.cri/registry/config_path": "/etc/containerd/certs.d",
		}},
		{"config-1.6-no-sys-resource.toml", "v1.6.20", true, map[string]any{
			"version": int64(2),
			"plugins/io.containerd.grpc.v1.cri/restrict_oom_score_adj": true,
			"plugins/io.containerd.grpc.v1.cri/registry/config_path":   "/etc/containerd/certs.d",
		}},
		{"config-2.0.toml", "2.0.5", false, map[string]any{
			"version": int64(3),
			"plugins/io.containerd.cri.v1.images/pinned_images/sandbox":                           "registry.local/pause:3.10",
			"plugins/io.containerd.cri.v1.runtime/containerd/runtimes/runc/options/SystemdCgroup": true,
			"plugins/io.containerd.cri.v1.runtime/cni/bin_dir":                                    "/opt/cni/bin",
			"plugins/io.containerd.cri.v1.runtime/restrict_oom_score_adj":                         false,
			"plugins/io.containerd.cri.v1.images/registry/config_path":                            "/etc/containerd/certs.d",
		}},
		{"config-2.1-no-sys-resource.toml", "2.1.4", true, map[string]any{
			"version": int64(3),
			"plugins/io.containerd.cri.v1.runtime/cni/bin_dirs":           []any{"/opt/cni/bin"},
			"plugins/io.containerd.cri.v1.runtime/restrict_oom_score_adj": true,
			"plugins/io.containerd.cri.v1.images/registry/config_path":    "/etc/containerd/certs.d",
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			b, err := RenderConfig(ConfigParams{
				Version: tc.version, Root: "/data/containerd", SandboxImage: "registry.local/pause:3.10",
				SystemdCgroup: true, RestrictOOMScoreAdj: tc.restrict,
			})
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, tc.golden, b)
			var doc map[string]any
			if err := toml.Unmarshal(b, &doc); err != nil {
				t.Fatalf("rendered config is not TOML: %v", err)
			}
			for path, want := range tc.checks {
				var cur any = doc
				for _, k := range strings.Split(path, "/") {
					m, ok := cur.(map[string]any)
					if !ok {
						t.Fatalf("%s: %v is not a table", path, cur)
					}
					cur = m[k]
				}
				if got := cur; !equal(got, want) {
					t.Errorf("%s = %#v, want %#v", path, got, want)
				}
			}
		})
	}
}

func equal(a, b any) bool {
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok {
		if len(as) != len(bs) {
			return false
		}
		for i := range as {
			if as[i] != bs[i] {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestRenderConfigRefusesBadInput(t *testing.T) {
	for name, p := range map[string]ConfigParams{
		"containerd 3":      {Version: "3.0.0", Root: "/x", SandboxImage: "p"},
		"no minor":          {Version: "1", Root: "/x", SandboxImage: "p"},
		"relative data dir": {Version: "1.7.0", Root: "x", SandboxImage: "p"},
		"no sandbox image":  {Version: "1.7.0", Root: "/x"},
	} {
		if _, err := RenderConfig(p); err == nil {
			t.Errorf("%s: rendered without error", name)
		}
	}
}

func TestRenderConfigQuotesStrings(t *testing.T) {
	b, err := RenderConfig(ConfigParams{Version: "1.7.0", Root: `/data/"odd"\dir`, SandboxImage: "p:1"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Root string }
	if err := toml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Root != `/data/"odd"\dir` {
		t.Errorf("root = %q after a TOML round trip", doc.Root)
	}
}

func TestRenderUnit(t *testing.T) {
	for name, p := range map[string]UnitParams{
		"containerd.service":                 {RaiseLimits: true},
		"containerd-no-sys-resource.service": {RaiseLimits: false},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := RenderUnit(p)
			if err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, name, b)
			for _, want := range []string{"KillMode=process\n", "Delegate=yes\n", "ExecStartPre=-/sbin/modprobe overlay\n"} {
				if !strings.Contains(string(b), want) {
					t.Errorf("unit lacks %q", want)
				}
			}
			if strings.Contains(string(b), "LimitNOFILE") != p.RaiseLimits {
				t.Errorf("LimitNOFILE present = %v, want %v", !p.RaiseLimits, p.RaiseLimits)
			}
			systemdtest.Verify(t, map[string][]byte{systemd.UnitPath(UnitName): b})
		})
	}
}

func TestCapEff(t *testing.T) {
	for _, tc := range []struct {
		status string
		want   bool
	}{
		{"Name:\tx\nCapEff:\t000001ffffffffff\n", true},
		{"CapEff:\t000001fffeffffff\n", false}, // E2E machines: bit 24 cleared
		{"CapEff:\t0000000001000000\n", true},
	} {
		got, err := capEffHas(tc.status, capSysResource)
		if err != nil || got != tc.want {
			t.Errorf("capEffHas(%q) = %v, %v; want %v", tc.status, got, err, tc.want)
		}
	}
	if _, err := capEffHas("Name: x\n", capSysResource); err == nil {
		t.Error("no CapEff line: want an error")
	}
}
