package artifact_test

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
)

// FuzzVerifyEnvelope: no input panics, and whatever verifies was signed by
// the test key over exactly the payload it carries.
func FuzzVerifyEnvelope(f *testing.F) {
	good := signPayloadF(mustJSON(goodPayload()))
	f.Add(good)
	f.Add([]byte(strings.Replace(string(good), `"sig": "`, `"sig": "A`, 1)))
	f.Add([]byte(`{"payloadType":"application/vnd.add2tke.manifest+json","payload":"e30=","signatures":[]}`))
	f.Add([]byte(`{"payloadType":"x","payload":"!!","signatures":[{"sig":""}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, env []byte) {
		m, err := artifact.VerifyManifest(env, "https://b.example/np/manifest.json?q-signature=x", string(testPub))
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("verified manifest does not validate: %v", err)
		}
		for _, a := range m.Artifacts {
			for _, u := range a.URLs {
				if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
					t.Fatalf("verified manifest has URL %q", u)
				}
			}
		}
	})
}

func signPayloadF(payload []byte) []byte {
	key, err := artifact.ParsePrivateKey(testPriv)
	if err != nil {
		panic(err)
	}
	env, err := artifact.Sign(payload, key)
	if err != nil {
		panic(err)
	}
	return env
}

// FuzzExtractTarGz: no archive writes outside the target directory.
func FuzzExtractTarGz(f *testing.F) {
	f.Add(tarGz(entry{name: "bin/x", typ: tar.TypeReg, content: "x", mode: 0o755}))
	f.Add(tarGz(entry{name: "../x", typ: tar.TypeReg, content: "x"}))
	f.Add(tarGz(entry{name: "/x", typ: tar.TypeReg, content: "x"}))
	f.Add(tarGz(entry{name: "l", typ: tar.TypeSymlink, link: "."}, entry{name: "l/x", typ: tar.TypeReg, content: "x"}))
	f.Add(tarGz(entry{name: "s", typ: tar.TypeSymlink, link: "."}, entry{name: "t", typ: tar.TypeSymlink, link: "s/.."}))
	f.Add(tarGz(entry{name: "a", typ: tar.TypeReg, content: "1"}, entry{name: "h", typ: tar.TypeLink, link: "a"}))
	f.Add(tarGz(entry{name: "d/", typ: tar.TypeDir, mode: 0o500}, entry{name: "d/f", typ: tar.TypeReg, content: "x"}))
	f.Add(tarGz(entry{name: "su", typ: tar.TypeReg, content: "x", mode: 0o6755}))
	f.Add(tarGz(entry{name: "null", typ: tar.TypeChar}))
	f.Add(tarGz(entry{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"}))
	f.Add([]byte("not gzip"))
	f.Fuzz(func(t *testing.T, archive []byte) {
		base := t.TempDir()
		src := filepath.Join(base, "in.tar.gz")
		if err := os.WriteFile(src, archive, 0o600); err != nil {
			t.Fatal(err)
		}
		outside := filepath.Join(base, "outside")
		if err := os.Mkdir(outside, 0o700); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(outside, "inside", "dst")
		// Small limits: a generated bomb must not fill the fuzzing disk.
		err := artifact.ExtractTarGzLimited(src, dst, artifact.Limits{Bytes: 1 << 20, Entries: 1000})
		ents, _ := os.ReadDir(base)
		if len(ents) != 2 {
			t.Fatalf("archive wrote beside the target's parent: %v", ents)
		}
		ents, _ = os.ReadDir(outside)
		if len(ents) != 1 {
			t.Fatalf("archive wrote outside the target: %v", ents)
		}
		if err != nil {
			return
		}
		// Every link in the result resolves inside it.
		realDst, _ := filepath.EvalSymlinks(dst)
		filepath.Walk(dst, func(p string, info os.FileInfo, err error) error {
			if err == nil && info.Mode()&os.ModeSymlink != 0 {
				r, err := filepath.EvalSymlinks(p)
				if err != nil || !strings.HasPrefix(r+"/", realDst+"/") {
					t.Fatalf("symlink %s resolves to %s", p, r)
				}
			}
			if err == nil && info.Mode()&(os.ModeSetuid|os.ModeSetgid) != 0 {
				t.Fatalf("%s keeps a setuid/setgid bit: %v", p, info.Mode())
			}
			if err == nil && info.IsDir() {
				os.Chmod(p, 0o700) // let the cleanup remove it
			}
			return nil
		})
	})
}

// FuzzParseManifest: no payload panics, whatever parses validates, and a
// parsed manifest survives a round trip through JSON.
func FuzzParseManifest(f *testing.F) {
	f.Add(mustJSON(goodPayload()))
	exp := goodPayload()
	exp["expires"] = "2030-01-02T03:04:05Z"
	f.Add(mustJSON(exp))
	f.Add([]byte(`{"schemaVersion":1,"expires":"0001-01-01T00:00:00Z","artifacts":[]}`))
	f.Add([]byte(`{"schemaVersion":1,"artifacts":[{"name":"a","version":"1","os":"linux","arch":"amd64","kind":"binary","urls":["x"],"size":1,"sha256":"` + strings.Repeat("0", 64) + `"}]} {}`))
	f.Add([]byte(`{"schemaVersion":2}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		m, err := artifact.ParseManifest(payload)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("parsed manifest does not validate: %v", err)
		}
		again, err := artifact.ParseManifest(mustJSON(m))
		if err != nil {
			t.Fatalf("a parsed manifest does not parse again: %v", err)
		}
		if len(again.Artifacts) != len(m.Artifacts) {
			t.Fatalf("round trip lost artifacts")
		}
	})
}
