package containerd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/add2tkectl/add2tkectl/internal/golden"
	"github.com/add2tkectl/add2tkectl/internal/testca"
	"github.com/add2tkectl/add2tkectl/pkg/site"
)

// mirrors is a site with a Docker Hub mirror over TLS with a private CA,
// a plain-HTTP fallback mirror, and a mirror of a private registry whose
// certificate is not verified.
func mirrors() *site.Settings {
	return &site.Settings{Registries: []site.Registry{
		{Upstream: "docker.io", Mirrors: []site.Mirror{
			{Endpoint: "https://10.77.0.1:5000", CAFile: "/etc/add2tkectl/mirror-ca.pem"},
			{Endpoint: "http://mirror.idc:5001"},
		}},
		{Upstream: "harbor.example.com:8443", Mirrors: []site.Mirror{
			{Endpoint: "https://harbor-cache.idc/proxy", InsecureSkipVerify: true},
		}},
	}}
}

func withMirrors(t *testing.T, f *fixture, s *site.Settings) {
	t.Helper()
	testca.Write(t, f.deps.Root.Dir, "/etc/add2tkectl/mirror-ca.pem", "mirror CA")
	f.deps.Site = s
}

func TestRenderHostsPerRegistry(t *testing.T) {
	f := newFixture(t, "1.7.22", "v1", true)
	withMirrors(t, f, mirrors())
	files, err := hostsFiles(f.deps.Root, f.deps.Site)
	if err != nil {
		t.Fatal(err)
	}
	for p, name := range map[string]string{
		"/etc/containerd/certs.d/docker.io/hosts.toml":               "hosts-docker.io.toml",
		"/etc/containerd/certs.d/harbor.example.com:8443/hosts.toml": "hosts-harbor.toml",
	} {
		file, ok := files[p]
		if !ok {
			t.Fatalf("no %s in %v", p, files)
		}
		golden.Assert(t, name, file.Data)
		var doc struct {
			Server string
			Host   map[string]struct {
				Capabilities []string
				CA           string `toml:"ca"`
				SkipVerify   bool   `toml:"skip_verify"`
			}
		}
		if err := toml.Unmarshal(file.Data, &doc); err != nil {
			t.Fatalf("%s is not TOML: %v", p, err)
		}
		if doc.Server == "" || len(doc.Host) == 0 {
			t.Errorf("%s: %+v", p, doc)
		}
		for h, c := range doc.Host {
			if !reflect.DeepEqual(c.Capabilities, []string{"pull", "resolve"}) {
				t.Errorf("%s: %s capabilities %v", p, h, c.Capabilities)
			}
		}
	}
	if len(files) != 2 {
		t.Errorf("files %v, want one hosts.toml per registry", files)
	}
}

// config.toml is the same with and without registries, for every major:
// a mirror change never restarts containerd.
func TestConfigDoesNotDependOnTheRegistries(t *testing.T) {
	for _, v := range []string{"1.6.20", "1.7.22", "2.0.5", "2.1.4"} {
		bare := newFixture(t, v, "v1", true)
		f := newFixture(t, v, "v1", true)
		withMirrors(t, f, mirrors())
		without, _, err := Files(bare.deps)
		if err != nil {
			t.Fatal(err)
		}
		with, _, err := Files(f.deps)
		if err != nil {
			t.Fatal(err)
		}
		if string(without[ConfigPath].Data) != string(with[ConfigPath].Data) {
			t.Errorf("%s: config.toml differs with registries", v)
		}
		if len(with) != len(without)+2 {
			t.Errorf("%s: %d files with two registries, %d without", v, len(with), len(without))
		}
		for p := range without {
			if filepath.Base(p) == "hosts.toml" {
				t.Errorf("%s: %s without registries", v, p)
			}
		}
	}
}

func TestInstallConvergesTheMirrorsWithoutRestartingContainerd(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, "1.7.22", "v1", true)
	root := f.deps.Root
	if _, err := Install(ctx, f.deps); err != nil {
		t.Fatal(err)
	}
	// The operator's own hosts.toml (no header) is never ours to remove.
	own := root.Path(CertsDir + "/quay.io/hosts.toml")
	os.MkdirAll(filepath.Dir(own), 0o755)
	os.WriteFile(own, []byte("server = \"https://quay.io\"\n"), 0o644)

	withMirrors(t, f, mirrors())
	f.fake.ResetCalls()
	if ok, _ := Satisfied(ctx, f.deps); ok {
		t.Fatal("Satisfied before the mirrors are written")
	}
	changed, err := Install(ctx, f.deps)
	if err != nil || !changed {
		t.Fatalf("Install with mirrors = %v, %v", changed, err)
	}
	for _, up := range []string{"docker.io", "harbor.example.com:8443"} {
		p := HostsPath(up)
		if _, err := os.Stat(root.Path(p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if _, ok := f.rec.Files[p]; !ok {
			t.Errorf("%s not in the journal: uninstall would leave it", p)
		}
	}
	if calls := f.fake.Calls(); len(calls) != 0 {
		t.Errorf("adding mirrors called systemd %v: hosts.toml is read at each pull", calls)
	}
	if ok, err := Satisfied(ctx, f.deps); err != nil || !ok {
		t.Fatalf("Satisfied after Install = %v, %v", ok, err)
	}

	// harbor is dropped from the site: its hosts.toml and directory go.
	s := mirrors()
	s.Registries = s.Registries[:1]
	f.deps.Site = s
	if ok, _ := Satisfied(ctx, f.deps); ok {
		t.Error("Satisfied while a dropped registry's hosts.toml is left")
	}
	f.fake.ResetCalls()
	if changed, err := Install(ctx, f.deps); err != nil || !changed {
		t.Fatalf("Install without harbor = %v, %v", changed, err)
	}
	if _, err := os.Stat(root.Path(CertsDir + "/harbor.example.com:8443")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dropped registry's directory: %v, want it gone", err)
	}
	if _, err := os.Stat(root.Path(HostsPath("docker.io"))); err != nil {
		t.Errorf("docker.io's hosts.toml: %v", err)
	}
	if _, err := os.Stat(own); err != nil {
		t.Errorf("the operator's hosts.toml: %v, want it kept", err)
	}
	if calls := f.fake.Calls(); len(calls) != 0 {
		t.Errorf("dropping a registry called systemd %v", calls)
	}
	if ok, err := Satisfied(ctx, f.deps); err != nil || !ok {
		t.Errorf("Satisfied after the sweep = %v, %v", ok, err)
	}
}

func TestFilesRefuseAMissingCA(t *testing.T) {
	f := newFixture(t, "2.0.5", "v1", true)
	f.deps.Site = mirrors() // no CA written
	_, _, err := Files(f.deps)
	var ve *site.ValidationError
	if !errors.As(err, &ve) || !contains([]byte(err.Error()), "/etc/add2tkectl/mirror-ca.pem does not exist") {
		t.Fatalf("err = %v", err)
	}
}
