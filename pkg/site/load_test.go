package site

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/add2tkectl/add2tkectl/pkg/host"
)

// writeSite puts a site file at Path under a new root and returns the root.
func writeSite(t *testing.T, content string) host.Root {
	t.Helper()
	root := host.Root{Dir: t.TempDir()}
	p := root.Path(Path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestLoadReadsEveryKeyOfTheSiteFile(t *testing.T) {
	b, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Load(Options{Root: writeSite(t, string(b))})
	if err != nil {
		t.Fatal(err)
	}
	want := &Settings{
		Proxy: Proxy{HTTP: "http://ops:s3cret@proxy.idc.example:3128", HTTPS: "http://proxy.idc.example:3128", NoProxy: []string{".idc.example", "10.0.0.0/8"}},
		Registries: []Registry{
			{Upstream: "docker.io", Mirrors: []Mirror{
				{Endpoint: "https://mirror.idc.example:5000", CAFile: "/etc/pki/idc-ca.pem"},
				{Endpoint: "http://10.0.0.5:5000", InsecureSkipVerify: true},
			}},
			{Upstream: "registry.k8s.io", Mirrors: []Mirror{{Endpoint: "https://mirror.idc.example:5000"}}},
		},
		Metrics: Metrics{TextfileDir: "/var/lib/node_exporter/textfile_collector"},
		CLI:     CLI{LogLevel: "warn", NoProgress: true, Timeout: 30 * time.Minute, ArtifactsDir: "/mnt/add2tke-offline"},
	}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("settings (-want +got):\n%s", d)
	}
}

func TestLoadWithoutSiteFileGivesTheDefaults(t *testing.T) {
	s, err := Load(Options{Root: host.Root{Dir: t.TempDir()}})
	if err != nil {
		t.Fatalf("a missing site file is no error: %v", err)
	}
	want := &Settings{CLI: CLI{LogLevel: DefaultLogLevel, Timeout: DefaultTimeout}}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}
	// An empty file is a site with none as well.
	if _, err := Load(Options{Root: writeSite(t, "# nothing yet\n")}); err != nil {
		t.Errorf("empty site file: %v", err)
	}
}

func TestLoadSiteFlagReadsThatFileAndMustFindIt(t *testing.T) {
	other := filepath.Join(t.TempDir(), "other.yaml")
	if err := os.WriteFile(other, []byte("cli: {logLevel: debug}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := writeSite(t, "cli: {logLevel: error}\n")
	s, err := Load(Options{Root: root, File: other})
	if err != nil || s.CLI.LogLevel != "debug" {
		t.Fatalf("--site: %v %+v, want the other file's debug", err, s)
	}

	missing := filepath.Join(t.TempDir(), "nope.yaml")
	_, err = Load(Options{Root: root, File: missing})
	var le *LoadError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "--site "+missing) || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("--site of a missing file: %v, want a LoadError naming it", err)
	}
}

func TestLoadPrecedenceFlagsOverEnvOverFileOverDefaults(t *testing.T) {
	root := writeSite(t, `
proxy:
  http: http://file:3128
  https: http://file:3129
  noProxy: [file.example]
metrics:
  textfileDir: /file
cli:
  logLevel: warn
  timeout: 20m
`)
	env := []string{
		"ADD2TKE_SITE_PROXY_HTTPS=http://env:3129",
		"ADD2TKE_SITE_PROXY_NOPROXY=a.example, b.example",
		"ADD2TKE_SITE_METRICS_TEXTFILEDIR=/env",
		"ADD2TKE_SITE_CLI_LOGLEVEL=error",
		"ADD2TKE_SITE_CLI_NOPROGRESS=true",
		"ADD2TKE_SITE_CLI_TIMEOUT=15m",
		"ADD2TKE_SITE_CLI_ARTIFACTSDIR=", // empty is unset
		"ADD2TKE_NODEPOOL_CORDON=true",   // the pool's, not the site's
	}
	flags := []Flag{
		{Key: "cli.logLevel", Name: "--log-level", Value: "debug"},
		{Key: "metrics.textfileDir", Name: "--metrics-textfile-dir", Value: "/flag"},
	}
	s, err := Load(Options{Root: root, Environ: env, Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	want := &Settings{
		Proxy:   Proxy{HTTP: "http://file:3128", HTTPS: "http://env:3129", NoProxy: []string{"a.example", "b.example"}},
		Metrics: Metrics{TextfileDir: "/flag"},
		CLI:     CLI{LogLevel: "debug", NoProgress: true, Timeout: 15 * time.Minute},
	}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("file < env < flags (-want +got):\n%s", d)
	}

	// Typed flag values: a list, a bool, a duration.
	s, err = Load(Options{Root: root, Environ: env, Flags: []Flag{
		{Key: "proxy.noProxy", Name: "--no-proxy", Value: []string{"flag.example"}},
		{Key: "cli.noProgress", Name: "--no-progress", Value: false},
		{Key: "cli.timeout", Name: "--timeout", Value: 5 * time.Minute},
		{Key: "cli.artifactsDir", Name: "--artifacts-dir", Value: "/mnt/x"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Proxy.NoProxy; len(got) != 1 || got[0] != "flag.example" || s.CLI.NoProgress || s.CLI.Timeout != 5*time.Minute || s.CLI.ArtifactsDir != "/mnt/x" {
		t.Errorf("typed flags not applied: %+v", s)
	}
}

func TestLoadUnknownKeyNamesItAsWrittenAndTheFile(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"top level", "proxi:\n  http: http://p:3128\n", `line 1: unknown key "proxi": the keys under the top level are proxy, registries, metrics, cli`},
		{"nested", "proxy:\n  http: http://p:3128\n  noProxyy: [a]\n", `line 3: unknown key "proxy.noProxyy"`},
		{"inside a registry", "registries:\n- upstream: docker.io\n  mirrors:\n  - endpoint: https://m:5000\n    caFle: /ca.pem\n", `line 5: unknown key "registries[0].mirrors[0].caFle": the keys under registries[0].mirrors[0] are endpoint, caFile, insecureSkipVerify`},
		{"registry entry", "registries:\n- upstream: docker.io\n  mirror: []\n", `unknown key "registries[0].mirror"`},
		{"twice ignoring case", "cli:\n  logLevel: warn\n  loglevel: debug\n", `line 3: key "cli.loglevel" given twice (as "logLevel" before`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := writeSite(t, tc.file)
			_, err := Load(Options{Root: root})
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("got %v, want a *LoadError", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), root.Path(Path)) {
				t.Errorf("error %q\nwant it to name the file and contain %q", err, tc.want)
			}
		})
	}
	// Keys are case-insensitive, as viper reads them.
	s, err := Load(Options{Root: writeSite(t, "CLI:\n  LOGLEVEL: debug\n")})
	if err != nil || s.CLI.LogLevel != "debug" {
		t.Errorf("case-insensitive keys: %v %+v", err, s)
	}
}

func TestLoadRejectsBadTypesAndVariables(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        []string
		want       string
	}{
		{"duration without unit", "cli: {timeout: 10}\n", nil, "10 has no unit"},
		{"bad duration", "cli: {timeout: soon}\n", nil, `"soon" is no duration`},
		{"env duration", "", []string{"ADD2TKE_SITE_CLI_TIMEOUT=10"}, `"10" is no duration`},
		{"bool", "cli: {noProgress: maybe}\n", nil, "'cli.noProgress' cannot parse value as 'bool'"},
		{"mapping expected", "proxy: http://p:3128\n", nil, "proxy"},
		{"not YAML", "proxy: [\n", nil, "not valid YAML"},
		{"not a mapping", "- a\n- b\n", nil, "the site file is a mapping"},
		{"misspelt variable", "", []string{"ADD2TKE_SITE_PROXY_HTTTP=x"}, "ADD2TKE_SITE_PROXY_HTTTP: no such site setting; the site variables are ADD2TKE_SITE_PROXY_HTTP"},
		{"registries variable", "", []string{"ADD2TKE_SITE_REGISTRIES=docker.io"}, "registries come only from the site file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(Options{Root: writeSite(t, tc.file), Environ: tc.env})
			var le *LoadError
			if !errors.As(err, &le) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want a *LoadError containing %q", err, tc.want)
			}
		})
	}
}

func TestLoadValidationSaysWhatToDo(t *testing.T) {
	for _, tc := range []struct {
		name  string
		file  string
		env   []string
		flags []Flag
		key   string
		src   string // "" means the site file
		want  string
	}{
		{name: "proxy scheme", file: "proxy: {http: socks5://p:1080}\n", key: "proxy.http", want: `has the scheme "socks5", not http or https: write the proxy as http://host:port`},
		{name: "proxy no scheme", env: []string{"ADD2TKE_SITE_PROXY_HTTPS=proxy.idc:3128"}, key: "proxy.https", src: "ADD2TKE_SITE_PROXY_HTTPS", want: "has no scheme"},
		{name: "proxy no host", flags: []Flag{{Key: "proxy.http", Name: "--proxy-http", Value: "http://:3128"}}, key: "proxy.http", src: "--proxy-http", want: "has no host"},
		{name: "proxy password stays hidden", file: "proxy: {http: 'ftp://ops:hunter2@p:21'}\n", key: "proxy.http", want: `"ftp://ops:***@p:21"`},
		{name: "noProxy empty entry", env: []string{"ADD2TKE_SITE_PROXY_NOPROXY=a,,b"}, key: "proxy.noProxy[1]", src: "ADD2TKE_SITE_PROXY_NOPROXY", want: "is empty: remove the empty entry"},
		{name: "upstream scheme", file: "registries: [{upstream: 'https://docker.io', mirrors: [{endpoint: 'https://m:5000'}]}]\n", key: "registries[0].upstream", want: "has a scheme"},
		{name: "upstream path", file: "registries: [{upstream: 'harbor.idc/library', mirrors: [{endpoint: 'https://m:5000'}]}]\n", key: "registries[0].upstream", want: "is not a host[:port]"},
		{name: "upstream port", file: "registries: [{upstream: 'harbor.idc:99999', mirrors: [{endpoint: 'https://m:5000'}]}]\n", key: "registries[0].upstream", want: `has the port "99999"`},
		{name: "upstream empty", file: "registries: [{mirrors: [{endpoint: 'https://m:5000'}]}]\n", key: "registries[0].upstream", want: "is empty"},
		{name: "upstream twice", file: "registries: [{upstream: docker.io, mirrors: [{endpoint: 'https://m:5000'}]}, {upstream: Docker.IO, mirrors: [{endpoint: 'https://n:5000'}]}]\n", key: "registries[1].upstream", want: "is registries[0]'s upstream too"},
		{name: "no mirror", file: "registries: [{upstream: docker.io}]\n", key: "registries[0].mirrors", want: "lists no mirror"},
		{name: "mirror endpoint scheme", file: "registries: [{upstream: docker.io, mirrors: [{endpoint: 'mirror.idc:5000'}]}]\n", key: "registries[0].mirrors[0].endpoint", want: "give the mirror's URL"},
		{name: "mirror endpoint empty", file: "registries: [{upstream: docker.io, mirrors: [{caFile: /ca.pem}]}]\n", key: "registries[0].mirrors[0].endpoint", want: "is empty"},
		{name: "caFile relative", file: "registries: [{upstream: docker.io, mirrors: [{endpoint: 'https://m:5000', caFile: ca.pem}]}]\n", key: "registries[0].mirrors[0].caFile", want: "is not an absolute path"},
		{name: "textfileDir relative", env: []string{"ADD2TKE_SITE_METRICS_TEXTFILEDIR=textfile"}, key: "metrics.textfileDir", src: "ADD2TKE_SITE_METRICS_TEXTFILEDIR", want: "is not an absolute path"},
		{name: "log level", file: "cli: {logLevel: verbose}\n", key: "cli.logLevel", want: `"verbose" is no log level: use debug, info, warn, error`},
		{name: "timeout zero", flags: []Flag{{Key: "cli.timeout", Name: "--timeout", Value: time.Duration(0)}}, key: "cli.timeout", src: "--timeout", want: "is not a positive duration"},
		{name: "timeout negative", file: "cli: {timeout: -1m}\n", key: "cli.timeout", want: "is not a positive duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := writeSite(t, tc.file)
			_, err := Load(Options{Root: root, Environ: tc.env, Flags: tc.flags})
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("got %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != 1 {
				t.Fatalf("got %d problems, want 1: %v", len(ve.Problems), err)
			}
			p := ve.Problems[0]
			src := tc.src
			if src == "" {
				src = "site file " + root.Path(Path)
			}
			if p.Key != tc.key || p.Source != src || !strings.Contains(p.Message, tc.want) {
				t.Errorf("problem %+v\nwant key %s, source %s, message containing %q", p, tc.key, src, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error prints the proxy's password: %v", err)
			}
		})
	}
}

func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	_, err := Load(Options{Root: writeSite(t, "proxy: {http: x}\nmetrics: {textfileDir: rel}\ncli: {logLevel: loud}\n")})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 3 || !strings.Contains(err.Error(), "(3 problems)") {
		t.Errorf("got %v, want 3 problems", err)
	}
}

func TestRedactedMasksURLPasswordsOnly(t *testing.T) {
	s := &Settings{
		Proxy:      Proxy{HTTP: "http://ops:s3cret@proxy:3128", HTTPS: "http://proxy:3128"},
		Registries: []Registry{{Upstream: "docker.io", Mirrors: []Mirror{{Endpoint: "https://u:tok@m:5000"}}}},
	}
	r := s.Redacted()
	if r.Proxy.HTTP != "http://ops:***@proxy:3128" || r.Proxy.HTTPS != "http://proxy:3128" || r.Registries[0].Mirrors[0].Endpoint != "https://u:***@m:5000" {
		t.Errorf("redacted: %+v", r)
	}
	if s.Proxy.HTTP != "http://ops:s3cret@proxy:3128" || s.Registries[0].Mirrors[0].Endpoint != "https://u:tok@m:5000" {
		t.Errorf("Redacted changed the original: %+v", s)
	}
}
