package artifact_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
)

func goodPayload() map[string]any {
	return map[string]any{"schemaVersion": 1, "artifacts": []any{
		map[string]any{"name": "kubelet", "version": "v1.35.4", "os": "linux", "arch": "amd64", "kind": "binary",
			"urls": []any{"kubelet", "https://public.example/kubelet"}, "size": 10, "sha256": strings.Repeat("ab", 32)},
		map[string]any{"name": "image/pause", "version": "3.10", "os": "linux", "arch": "amd64", "kind": "image",
			"urls": []any{"https://internal.example/pause.tar"}, "size": 20, "sha256": strings.Repeat("cd", 32)},
	}}
}

func signPayload(t *testing.T, payload []byte) []byte {
	t.Helper()
	key, err := artifact.ParsePrivateKey(testPriv)
	if err != nil {
		t.Fatal(err)
	}
	env, err := artifact.Sign(payload, key)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestVerifyManifestResolvesRelativeURLs(t *testing.T) {
	env := signPayload(t, mustJSON(goodPayload()))
	m, err := artifact.VerifyManifest(env, "https://bucket.cos-internal.example/np-1/manifest.json?q-signature=secret", string(testPub))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://bucket.cos-internal.example/np-1/kubelet", "https://public.example/kubelet"}
	if got := m.Artifacts[0].URLs; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("urls %v, want %v", got, want)
	}
}

// TestVerifyManifestRefuses lists every reason a manifest is refused: each
// is an *artifact.Error (exit 4) whose message names the reason.
func TestVerifyManifestRefuses(t *testing.T) {
	edit := func(f func(m map[string]any, a0 map[string]any)) []byte {
		p := goodPayload()
		f(p, p["artifacts"].([]any)[0].(map[string]any))
		return signPayload(t, mustJSON(p))
	}
	good := signPayload(t, mustJSON(goodPayload()))
	var env artifact.Envelope
	if err := json.Unmarshal(good, &env); err != nil {
		t.Fatal(err)
	}
	reenc := func(f func(e *artifact.Envelope)) []byte {
		e := env
		e.Signatures = append([]artifact.Signature(nil), env.Signatures...)
		f(&e)
		return mustJSON(e)
	}
	_, otherPub, _ := artifact.GenerateKey()
	tampered := mustJSON(goodPayload())
	tampered = []byte(strings.Replace(string(tampered), `"size":10`, `"size":11`, 1))

	cases := []struct {
		name     string
		envelope []byte
		pub      string
		want     string
	}{
		{"not JSON", []byte("<html>"), string(testPub), "not a DSSE envelope"},
		{"unsigned", reenc(func(e *artifact.Envelope) { e.Signatures = nil }), string(testPub), "unsigned"},
		{"tampered payload", reenc(func(e *artifact.Envelope) { e.Payload = base64.StdEncoding.EncodeToString(tampered) }), string(testPub), "no signature verifies"},
		{"garbage signature", reenc(func(e *artifact.Envelope) { e.Signatures[0].Sig = "!!" }), string(testPub), "no signature verifies"},
		{"wrong key", good, string(otherPub), "no signature verifies"},
		{"bad public key", good, "not a key", "artifacts.publicKey"},
		{"wrong payloadType", reenc(func(e *artifact.Envelope) { e.PayloadType = "application/vnd.in-toto+json" }), string(testPub), "payloadType"},
		{"unknown schemaVersion", edit(func(m, _ map[string]any) { m["schemaVersion"] = 2 }), string(testPub), "schemaVersion 2"},
		{"duplicate artifact", edit(func(m, a map[string]any) { m["artifacts"] = append(m["artifacts"].([]any), a) }), string(testPub), "listed twice"},
		{"bad sha256", edit(func(_, a map[string]any) { a["sha256"] = "ABCD" }), string(testPub), "sha256"},
		{"upper-case sha256", edit(func(_, a map[string]any) { a["sha256"] = strings.Repeat("AB", 32) }), string(testPub), "sha256"},
		{"zero size", edit(func(_, a map[string]any) { a["size"] = 0 }), string(testPub), "size 0"},
		{"negative size", edit(func(_, a map[string]any) { a["size"] = -5 }), string(testPub), "size -5"},
		{"bad kind", edit(func(_, a map[string]any) { a["kind"] = "rpm" }), string(testPub), `kind "rpm"`},
		{"no urls", edit(func(_, a map[string]any) { a["urls"] = []any{} }), string(testPub), "no urls"},
		{"unknown field", edit(func(_, a map[string]any) { a["sha512"] = "x" }), string(testPub), "unknown field"},
		{"no artifacts", edit(func(m, _ map[string]any) { m["artifacts"] = []any{} }), string(testPub), "no artifacts"},
		{"file url", edit(func(_, a map[string]any) { a["urls"] = []any{"file:///etc/shadow"} }), string(testPub), "scheme"},
		{"name with ..", edit(func(_, a map[string]any) { a["name"] = "../kubelet" }), string(testPub), "'..'"},
		{"one sha256, two sizes", edit(func(m, a map[string]any) {
			m["artifacts"].([]any)[1].(map[string]any)["sha256"] = a["sha256"]
		}), string(testPub), "sizes 10 and 20"},
		{"expired", edit(func(m, _ map[string]any) { m["expires"] = "2020-01-02T03:04:05Z" }), string(testPub), "expired at 2020-01-02T03:04:05Z; regenerate and republish"},
		{"expires not RFC 3339", edit(func(m, _ map[string]any) { m["expires"] = "next week" }), string(testPub), "decode manifest payload"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := artifact.VerifyManifest(tc.envelope, "https://b.example/manifest.json", tc.pub)
			var ae *artifact.Error
			if !errors.As(err, &ae) {
				t.Fatalf("got %v (%T), want *artifact.Error", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func TestPAE(t *testing.T) {
	got := string(artifact.PAE("a/b", []byte("hello world")))
	if want := "DSSEv1 3 a/b 11 hello world"; got != want {
		t.Errorf("PAE = %q, want %q", got, want)
	}
}

// TestOpenSSLSignatureVerifies signs with the real openssl binary, as a
// release pipeline without add2tkectl would: an openssl ed25519 key and
// `openssl pkeyutl -sign -rawin` over the PAE.
func TestOpenSSLSignatureVerifies(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl is needed (scripts/ci-deps.sh installs it)")
	}
	dir := t.TempDir()
	key, pae, sig := filepath.Join(dir, "k.pem"), filepath.Join(dir, "pae.bin"), filepath.Join(dir, "sig.bin")
	run := func(args ...string) []byte {
		out, err := exec.Command(openssl, args...).Output()
		if err != nil {
			t.Fatalf("openssl %v: %v", args, err)
		}
		return out
	}
	run("genpkey", "-algorithm", "ed25519", "-out", key)
	pub := run("pkey", "-in", key, "-pubout")
	payload := mustJSON(goodPayload())
	if err := os.WriteFile(pae, artifact.PAE(artifact.PayloadType, payload), 0o600); err != nil {
		t.Fatal(err)
	}
	run("pkeyutl", "-sign", "-rawin", "-inkey", key, "-in", pae, "-out", sig)
	s, err := os.ReadFile(sig)
	if err != nil {
		t.Fatal(err)
	}
	env := mustJSON(artifact.Envelope{PayloadType: artifact.PayloadType,
		Payload:    base64.StdEncoding.EncodeToString(payload),
		Signatures: []artifact.Signature{{Sig: base64.StdEncoding.EncodeToString(s)}}})
	if _, err := artifact.VerifyManifest(env, "https://b.example/m.json", string(pub)); err != nil {
		t.Fatalf("openssl's signature does not verify: %v", err)
	}
	// openssl reads our private key too, and its signature is ours
	// (ed25519 is deterministic).
	ours := filepath.Join(dir, "ours.key")
	if err := os.WriteFile(ours, testPriv, 0o600); err != nil {
		t.Fatal(err)
	}
	run("pkeyutl", "-sign", "-rawin", "-inkey", ours, "-in", pae, "-out", sig)
	s, _ = os.ReadFile(sig)
	var mine artifact.Envelope
	if err := json.Unmarshal(signPayload(t, payload), &mine); err != nil {
		t.Fatal(err)
	}
	if mine.Signatures[0].Sig != base64.StdEncoding.EncodeToString(s) {
		t.Error("Sign and openssl disagree on the signature of the same PAE with the same key")
	}
}
