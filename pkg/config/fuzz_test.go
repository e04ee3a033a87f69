package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/redact"
)

// FuzzLoad: any bytes as a configuration file either load or give a
// *LoadError, never a panic; what loads survives a round trip through the
// JSON payload form unchanged.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		files, _ := filepath.Glob(filepath.Join(testdata, dir, "*"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("nodePool:\n  kubelet:\n    extraConfig:\n      x: .inf\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseDocument(data, "fuzz")
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %T is not a *LoadError: %v", err, err)
			}
			return
		}
		c, err := decodeDocument(doc)
		if err != nil {
			t.Fatalf("a document that passed the schema does not decode: %v", err)
		}
		_ = c.Validate()
		b, err := jsonString(doc)
		if err != nil {
			t.Fatal(err)
		}
		doc2, err := ParseDocument([]byte(b), "payload")
		if err != nil {
			t.Fatalf("the payload form of a loaded document does not load: %v\n%s", err, b)
		}
		c2, err := decodeDocument(doc2)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip changed the configuration: %v\n%+v\n%+v", err, c, c2)
		}
	})
}

// FuzzTrailer: any file either has no payload, a payload whose checksum
// holds, or ErrCorruptPayload; bundling over it replaces, never stacks.
func FuzzTrailer(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x7fELF plain"))
	f.Add(append([]byte("\x7fELF"), Trailer([]byte(`{"a":1}`))...))
	f.Add(append([]byte("\x7fELF"), Trailer(nil)...))
	f.Add(append(append([]byte("\x7fELF"), Trailer([]byte("x"))...), Trailer([]byte("yy"))...))
	f.Add([]byte("ADD2TKE.PAYLOAD1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		payload, exeSize, found, err := ReadPayloadFrom(bytes.NewReader(data), int64(len(data)))
		switch {
		case err != nil:
			if !errors.Is(err, ErrCorruptPayload) {
				t.Fatalf("error is not ErrCorruptPayload: %v", err)
			}
			return
		case !found:
			if exeSize != int64(len(data)) {
				t.Fatalf("no payload but executable size %d of %d", exeSize, len(data))
			}
		default:
			if !bytes.Equal(data[exeSize:], Trailer(payload)) {
				t.Fatal("found a payload whose trailer does not re-encode to the file's tail")
			}
		}
		var out bytes.Buffer
		if _, err := Bundle(&out, bytes.NewReader(data), int64(len(data)), []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if want := int(exeSize) + 2 + trailerSize; out.Len() != want {
			t.Fatalf("bundled size %d, want %d", out.Len(), want)
		}
	})
}

// FuzzSetSecret: a --set either is refused, or nothing it put into the
// configuration is a secret — no bootstrap token in the typed field or in
// any key or string at any depth, no presigned URL — and an error never
// shows the token's secret half.
func FuzzSetSecret(f *testing.F) {
	for _, s := range [][2]string{
		{"cluster", "{bootstrapToken: abcdef.0123456789abcdef}"},
		{"cluster", `{"bootstrapToken": "abcdef\u002e0123456789abcdef"}`},
		{"cluster", "{bootstrapToken: !!str abcdef.0123456789abcdef}"},
		{"cluster.bootstrapToken", "abcdef.0123456789abcdef"},
		{"artifacts", `{manifestURL: "https://b/m.json?q-sign-algorithm=sha1&q-signature=0123456789abcdef"}`},
		{"artifacts", `{"manifestURL": "https://b/m.json\u003fX-Amz-Signature\u003dab"}`},
		{"artifacts.manifestURL", "https://b/m.json?Signature=x"},
		{"nodePool.labels", "{a: abcdef.0123456789abcdef}"},
		{"nodePool.labels.abcdef.0123456789abcdef", "x"},
		{"nodePool.taints", "[{key: k, value: abcdef.0123456789abcdef, effect: NoSchedule}]"},
		{"nodePool.kubelet.extraConfig", `{a: {b: [1, "https://h/?token=t"]}}`},
		{"nodePool.kubelet.extraConfig", "{a: &x abcdef.0123456789abcdef, b: *x}"},
		{"nodePool.userScript", "#!/bin/sh\necho abcdef.0123456789abcdef\n"},
		{"nodePool", "{userScript: 'curl https://b/x?x-cos-security-token=t'}"},
		{"nodePool.cordon", "true"},
		{"cluster", "{id: cls-1}"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, path, text string) {
		doc, err := setDocument([]string{path + "=" + text})
		if err != nil {
			for _, tok := range redact.TokenRE.FindAllString(path+"="+text, -1) {
				if strings.Contains(err.Error(), tok[7:]) {
					t.Fatalf("error shows the token's secret half: %v", err)
				}
			}
			return
		}
		c, err := decodeDocument(doc)
		if err != nil {
			return // the merged document's own check reports it
		}
		if c.Cluster.BootstrapToken != "" || strings.Contains(c.Artifacts.ManifestURL, "?") {
			t.Fatalf("--set %s=%q put a secret into the configuration: %+v", path, text, c)
		}
		// Walk the document as its JSON form reads back, independently of
		// how --set decoded it.
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		var back any
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		var walk func(v any)
		walk = func(v any) {
			switch x := v.(type) {
			case string:
				if secretInText(x) != "" {
					t.Fatalf("--set %s=%q put a secret into the configuration: %q", path, text, x)
				}
			case map[string]any:
				for k, e := range x {
					walk(k)
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(back)
	})
}
