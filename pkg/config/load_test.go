package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodFile = testdata + "/good/containerd.yaml"

// bundled writes a fake executable named name carrying payload.
func bundled(t *testing.T, name, payload string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	data := append([]byte("\x7fELF not really an executable"), Trailer([]byte(payload))...)
	if err := os.WriteFile(p, data, 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedenceFlagOverEnvOverFileOverPayloadOverDefault(t *testing.T) {
	exe := bundled(t, "add2tkectl", `{"nodePool":{"runtime":{"dataDir":"/payload"},"labels":{"example.com/payload":"p","example.com/all":"payload"}}}`)
	file := writeFile(t, "pool.yaml", "nodePool:\n  runtime:\n    dataDir: /file\n  labels:\n    example.com/file: f\n    example.com/all: file\n")
	env := []string{"ADD2TKE_NODEPOOL_RUNTIME_DATADIR=/env", "ADD2TKE_NODEPOOL_LABELS={example.com/env: e, example.com/all: env}", "PATH=/bin"}
	sets := []string{"nodePool.runtime.dataDir=/flag", "nodePool.labels.example.com/all=flag"}

	for _, tc := range []struct {
		name    string
		o       Options
		dataDir string
		all     string
		labels  []string
		sources int
	}{
		{"all sources", Options{Executable: exe, File: file, Environ: env, Sets: sets}, "/flag", "flag", []string{"payload", "file", "env"}, 5},
		{"no flags", Options{Executable: exe, File: file, Environ: env}, "/env", "env", []string{"payload", "file", "env"}, 4},
		{"no env", Options{Executable: exe, File: file}, "/file", "file", []string{"payload", "file"}, 3},
		{"payload only", Options{Executable: exe}, "/payload", "payload", []string{"payload"}, 2},
		{"defaults only", Options{}, "/var/lib/containerd", "", nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Load(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			np := l.Config.NodePool
			if np.Runtime.DataDir != tc.dataDir {
				t.Errorf("dataDir = %q, want %q", np.Runtime.DataDir, tc.dataDir)
			}
			if np.Labels["example.com/all"] != tc.all {
				t.Errorf("label set by every source = %q, want %q", np.Labels["example.com/all"], tc.all)
			}
			// Mappings merge: each source's own label survives.
			for _, src := range tc.labels {
				if np.Labels["example.com/"+src] == "" {
					t.Errorf("label of %s lost in the merge: %v", src, np.Labels)
				}
			}
			if len(l.Sources) != tc.sources || l.Sources[len(l.Sources)-1] != "defaults" {
				t.Errorf("sources %q, want %d ending in defaults", l.Sources, tc.sources)
			}
		})
	}
}

func TestSetParsesValuesByFieldType(t *testing.T) {
	l, err := Load(Options{File: goodFile, Sets: []string{
		"nodePool.cordon=true",
		"cluster.kubernetesVersion=1.30", // a string field keeps the text, not the float 1.3
		"nodePool.labels.tke.cloud.tencent.com/location=idc-bj-09",
		"nodePool.labels.example.com/count=10",
		"nodePool.taints=[{key: a, value: b, effect: NoExecute}]",
		"cluster.apiServer.caCertHashes=[sha256:" + strings.Repeat("ab", 32) + "]",
		"nodePool.kubelet.extraConfig.evictionHard={memory.available: 100Mi}",
		"nodePool.kubelet.extraConfig.maxPods=64",
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if !c.NodePool.Cordon || c.Cluster.KubernetesVersion != "1.30" {
		t.Errorf("cordon %v, version %q", c.NodePool.Cordon, c.Cluster.KubernetesVersion)
	}
	if c.NodePool.Labels[LabelLocation] != "idc-bj-09" || c.NodePool.Labels["example.com/count"] != "10" || c.NodePool.Labels["example.com/rack"] != "r12" {
		t.Errorf("labels %v", c.NodePool.Labels)
	}
	if len(c.NodePool.Taints) != 1 || c.NodePool.Taints[0] != (Taint{Key: "a", Value: "b", Effect: "NoExecute"}) {
		t.Errorf("taints %v: a list replaces the lower source's", c.NodePool.Taints)
	}
	if len(c.Cluster.APIServer.CACertHashes) != 1 {
		t.Errorf("caCertHashes %v", c.Cluster.APIServer.CACertHashes)
	}
	got, _ := jsonString(c.NodePool.Kubelet.ExtraConfig)
	if want := `{"evictionHard":{"memory.available":"100Mi"},"maxPods":64,"serializeImagePulls":false}`; got != want {
		t.Errorf("extraConfig %s, want %s", got, want)
	}
}

func TestSetAndEnvErrorsNameTheFieldNotTheValue(t *testing.T) {
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Sets: []string{"nodePool.cordn=true"}}, `--set nodePool.cordn: no field "cordn" under nodePool`},
		{Options{Sets: []string{"nodepool.cordon=true"}}, `did you mean "nodePool"?`},
		{Options{Sets: []string{"nodePool.cordon"}}, "write --set path=value"},
		{Options{Sets: []string{"nodePool.cordon=maybe"}}, "--set nodePool.cordon: nodePool.cordon: must be true or false"},
		{Options{Sets: []string{"nodePool.taints.key=a"}}, "nodePool.taints is a list: set it whole"},
		{Options{Sets: []string{"cluster.bootstrapToken.x=abcdef.0123456789abcdef"}}, "cluster.bootstrapToken is a string"},
		{Options{Sets: []string{"cluster.bootstrapToken=abcdef.0123456789abcdef"}}, "holds the bootstrap token; that is a secret and the command line is visible to every user"},
		{Options{Sets: []string{"artifacts.manifestURL=https://cos/m.json?q-signature=0123456789abcdef"}}, "put it in the --config file or in the environment variable ADD2TKE_ARTIFACTS_MANIFESTURL"},
		{Options{Environ: []string{"ADD2TKE_NODEPOOL_CORDONN=true"}}, `environment variable ADD2TKE_NODEPOOL_CORDONN: no field "cordonn" under nodePool`},
		{Options{Environ: []string{"ADD2TKE_NODEPOOL_LABELS_FOO=a"}}, "set ADD2TKE_NODEPOOL_LABELS to the whole value in YAML"},
		{Options{Environ: []string{"ADD2TKE_NODEPOOL_TAINTS=key: a"}}, "nodePool.taints: must be a list"},
	} {
		_, err := Load(tc.o)
		var le *LoadError
		if !errors.As(err, &le) {
			t.Errorf("%+v: error %v, want a *LoadError", tc.o, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %q does not contain %q", tc.o, err, tc.want)
		}
		if strings.Contains(err.Error(), tokenSecret) {
			t.Errorf("error leaks the token: %v", err)
		}
	}
}

func TestEnvSchemeAndForeignVariables(t *testing.T) {
	l, err := Load(Options{File: goodFile, Environ: []string{
		"ADD2TKE_CLUSTER_BOOTSTRAPTOKEN=zzzzzz.zzzzzzzzzzzzzzzz",
		"ADD2TKE_CLUSTER_APISERVER_ENDPOINT=https://192.168.0.9:6443",
		"ADD2TKE_NODEPOOL_CORDON=true",
		"ADD2TKE_NODEPOOL_RUNTIME_VERSION=", // empty is unset
		"ADD2TKE_LOG_LEVEL=debug",           // not configuration: ignored
		"ADD2TKE_E2E=1",
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if c.Cluster.BootstrapToken != "zzzzzz.zzzzzzzzzzzzzzzz" || c.Cluster.APIServer.Endpoint != "https://192.168.0.9:6443" || !c.NodePool.Cordon || c.NodePool.Runtime.Version != "1.7.22" {
		t.Errorf("environment not applied as documented: %+v", c.Cluster)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if s := l.Sources[0]; !strings.Contains(s, "ADD2TKE_NODEPOOL_CORDON") || strings.Contains(s, "ADD2TKE_LOG_LEVEL") || strings.Contains(s, "zzzz") {
		t.Errorf("environment source %q", s)
	}
}

func TestLabelKeysAreNeverSplitOnDots(t *testing.T) {
	file := writeFile(t, "l.yaml", "nodePool:\n  labels:\n    a.b.c/d.e: x\n")
	l, err := Load(Options{File: file, Sets: []string{"nodePool.labels.f.g/h.i=y"}, Environ: []string{"ADD2TKE_NODEPOOL_LABELS={j.k/l.m: z}"}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := jsonString(l.Config.NodePool.Labels)
	if want := `{"a.b.c/d.e":"x","f.g/h.i":"y","j.k/l.m":"z"}`; got != want {
		t.Errorf("labels %s, want %s", got, want)
	}
}

func TestPayloadNameMustMatchIDs(t *testing.T) {
	payload := `{"cluster":{"id":"cls-m57oxxxp"},"nodePool":{"id":"np-3kd9a1bc"}}`
	for _, tc := range []struct {
		name, payload string
		file          bool
		want          error
	}{
		{"add2tkectl-cls-m57oxxxp-np-3kd9a1bc", payload, false, nil},
		{"add2tkectl-cls-m57oxxxp-np-3kd9a1bc-amd64", payload, false, nil},
		{"add2tkectl", payload, false, nil},
		{"add2tkectl-cls-xxxxxxxx-np-yyyyyyyy", payload, false, ErrNameMismatch},
		{"add2tkectl-cls-m57oxxxp-np-00000000", payload, false, ErrNameMismatch},
		{"add2tkectl-cls-m57oxxxp-np-3kd9a1bc", "", false, ErrCorruptPayload}, // named but nothing carried
	} {
		var exe string
		if tc.payload == "" {
			exe = writeFile(t, tc.name, "\x7fELF plain")
		} else {
			exe = bundled(t, tc.name, tc.payload)
		}
		_, err := Load(Options{Executable: exe})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		var le *LoadError
		if tc.want != nil && !errors.As(err, &le) {
			t.Errorf("%s: %T is not a *LoadError", tc.name, err)
		}
	}
	// A named binary without payload is fine when --config says what to do.
	if _, err := Load(Options{Executable: writeFile(t, "add2tkectl-cls-m57oxxxp-np-3kd9a1bc", "\x7fELF"), File: goodFile}); err != nil {
		t.Errorf("named plain binary with --config: %v", err)
	}
}

func TestUnreadableFileIsALoadError(t *testing.T) {
	_, err := Load(Options{File: filepath.Join(t.TempDir(), "missing.yaml")})
	var le *LoadError
	if !errors.As(err, &le) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("error %v", err)
	}
}

func TestJSONDocumentsKeepLinesAndRefuseDuplicates(t *testing.T) {
	file := writeFile(t, "pool.json", "{\"cluster\": {\"id\": \"cls-m57oxxxp\",\n\t\"id\": \"cls-aaaaaaaa\"},\n\"nodePool\":\n\t{\"cordon\": 1, \"labels\": {\"a\\/b\": 2}}}\n")
	_, err := Load(Options{File: file})
	for _, want := range []string{`line 2: cluster: key "id" appears twice`, "line 4: nodePool.cordon: must be true or false"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
	file = writeFile(t, "labels.json", `{"nodePool": {"labels": {"a\/b": 2, "c": "d"}}}`)
	l, err := Load(Options{File: file})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := jsonString(l.Config.NodePool.Labels); got != `{"a/b":"2","c":"d"}` {
		t.Errorf("labels %s", got)
	}
}
