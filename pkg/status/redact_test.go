package status

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"
)

// Secrets reach status only through error messages of libraries and
// servers; whatever carries them, no output format prints them.
func TestReportHasNoSecret(t *testing.T) {
	h := newHost(t)
	cfg := h.cfg
	leak := "token " + cfg.Cluster.BootstrapToken + " url " + cfg.Artifacts.ManifestURL
	// The kubelet answers with a body echoing secrets.
	h.healthz.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, leak, http.StatusInternalServerError)
	})
	// The API client fails with an error that quotes them.
	h.api.PrependReactor("get", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New(leak)
	})
	// The bootstrap kubeconfig (with the token) changed: its path is
	// reported, never its content.
	h.writeFile("/etc/kubernetes/bootstrap-kubelet.conf", []byte("token: "+cfg.Cluster.BootstrapToken+"\nedited\n"), 0o600)
	// A user script result that quotes them.
	h.writeLastRun(`{"time":"2026-11-27T20:06:00Z","attempts":1,"exitCode":1,"logPath":"` + strings.ReplaceAll(leak, `"`, ``) + `"}`)

	rep, err := gather(t, h.deps())
	if err == nil {
		t.Fatal("no error")
	}
	js, _ := json.Marshal(rep)
	ym, _ := yaml.Marshal(rep)
	outputs := map[string]string{"json": string(js), "yaml": string(ym), "text": string(FormatText(rep)), "error": err.Error()}
	for name, out := range outputs {
		for _, secret := range []string{testTokenSecret, testSignature, testAccessKey, "q-signature"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output contains the secret %q:\n%s", name, secret, out)
			}
		}
	}
	// The leak did reach the report (masked): the test is not vacuous.
	if !strings.Contains(rep.Kubelet.Error, "token REDACTED url") || !strings.Contains(rep.Node.Error, "manifest.json?REDACTED") {
		t.Errorf("masked secrets not where expected: kubelet %q node %q", rep.Kubelet.Error, rep.Node.Error)
	}
	if !contains(rep.Problems, "drift: file /etc/kubernetes/bootstrap-kubelet.conf modified") {
		t.Errorf("problems %q", rep.Problems)
	}
}

func TestSecretsOfMasksOnlyLongQueryValues(t *testing.T) {
	got := strings.Join(secretsOf(testConfig()), " ")
	for _, want := range []string{testTokenSecret, testSignature, testAccessKey} {
		if !strings.Contains(got, want) {
			t.Errorf("secrets lack %q", want)
		}
	}
	r := &Report{NodeName: "host", Problems: []string{"sha1 host"}}
	redactReport(r, secretsOf(testConfig()))
	if r.NodeName != "host" || r.Problems[0] != "sha1 host" {
		t.Errorf("short query values were masked in unrelated text: %+v", r)
	}
}
