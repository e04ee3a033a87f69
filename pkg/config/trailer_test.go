package config

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestBundleRoundTripAndRebundleReplaces(t *testing.T) {
	exe := bytes.Repeat([]byte("\x7fELF-code-"), 1000)
	var once bytes.Buffer
	if _, err := Bundle(&once, bytes.NewReader(exe), int64(len(exe)), []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	var twice bytes.Buffer
	n, err := Bundle(&twice, bytes.NewReader(once.Bytes()), int64(once.Len()), []byte(`{"b":22}`))
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(twice.Len()) || twice.Len() != len(exe)+len(`{"b":22}`)+trailerSize {
		t.Fatalf("re-bundled size %d, want %d: payloads stacked", twice.Len(), len(exe)+len(`{"b":22}`)+trailerSize)
	}
	p, exeSize, found, err := ReadPayloadFrom(bytes.NewReader(twice.Bytes()), int64(twice.Len()))
	if err != nil || !found || string(p) != `{"b":22}` || exeSize != int64(len(exe)) {
		t.Fatalf("read back %q %d %v %v", p, exeSize, found, err)
	}
	if !bytes.Equal(twice.Bytes()[:exeSize], exe) {
		t.Fatal("the executable part changed")
	}
}

func TestPlainExecutableHasNoPayload(t *testing.T) {
	for _, exe := range [][]byte{nil, []byte("short"), bytes.Repeat([]byte{0}, 4096)} {
		_, size, found, err := ReadPayloadFrom(bytes.NewReader(exe), int64(len(exe)))
		if err != nil || found || size != int64(len(exe)) {
			t.Errorf("%d bytes: found %v size %d err %v", len(exe), found, size, err)
		}
	}
}

func TestCorruptTrailerIsRefused(t *testing.T) {
	good := append([]byte("\x7fELF"), Trailer([]byte(`{"cluster":{}}`))...)
	payloadAt := 4
	lenAt := len(good) - 16 - 8
	for name, mutate := range map[string]func(b []byte){
		"payload byte flipped":  func(b []byte) { b[payloadAt] ^= 1 },
		"checksum byte flipped": func(b []byte) { b[lenAt-1] ^= 1 },
		"length too large":      func(b []byte) { b[lenAt] = 0xff },
		"length beyond file":    func(b []byte) { b[lenAt+7] = 200 },
		"length shorter":        func(b []byte) { b[lenAt+7]-- },
	} {
		b := bytes.Clone(good)
		mutate(b)
		_, _, _, err := ReadPayloadFrom(bytes.NewReader(b), int64(len(b)))
		if !errors.Is(err, ErrCorruptPayload) {
			t.Errorf("%s: error %v, want ErrCorruptPayload", name, err)
		}
		// Bundling over a damaged payload is refused too, not stacked.
		if _, err := Bundle(io.Discard, bytes.NewReader(b), int64(len(b)), []byte("{}")); !errors.Is(err, ErrCorruptPayload) {
			t.Errorf("%s: Bundle error %v", name, err)
		}
	}
}

// tailReader is a 60 MB executable that is never in memory; it records how
// much was read.
type tailReader struct {
	size    int64
	payload []byte
	read    int64
}

func (r *tailReader) ReadAt(p []byte, off int64) (int, error) {
	r.read += int64(len(p))
	tail := Trailer(r.payload)
	start := r.size - int64(len(tail))
	for i := range p {
		if o := off + int64(i); o >= start {
			p[i] = tail[o-start]
		} else {
			p[i] = 0
		}
	}
	return len(p), nil
}

func TestReadPayloadReadsOnlyTheTail(t *testing.T) {
	payload := []byte(`{"nodePool":{"id":"np-3kd9a1bc"}}`)
	r := &tailReader{size: 60 << 20, payload: payload}
	got, _, found, err := ReadPayloadFrom(r, r.size)
	if err != nil || !found || !bytes.Equal(got, payload) {
		t.Fatalf("%q %v %v", got, found, err)
	}
	if want := int64(len(payload) + trailerSize); r.read != want {
		t.Errorf("read %d bytes of a 60 MB executable, want %d (payload and trailer only)", r.read, want)
	}
}

func TestTrailerLayout(t *testing.T) {
	tr := Trailer([]byte("xyz"))
	sum := sha256.Sum256([]byte("xyz"))
	want := append(append([]byte("xyz"), sum[:]...), 0, 0, 0, 0, 0, 0, 0, 3)
	want = append(want, "ADD2TKE.PAYLOAD1"...)
	if !bytes.Equal(tr, want) {
		t.Errorf("trailer %x, want %x", tr, want)
	}
}

// BenchmarkReadPayload60MB: start-up cost of finding the configuration in a
// 60 MB executable (a sparse file here) — two small reads at its end.
func BenchmarkReadPayload60MB(b *testing.B) {
	p := filepath.Join(b.TempDir(), "add2tkectl")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	payload := bytes.Repeat([]byte("x"), 4096)
	if err := f.Truncate(60 << 20); err != nil {
		b.Fatal(err)
	}
	if _, err := f.WriteAt(Trailer(payload), 60<<20); err != nil {
		b.Fatal(err)
	}
	f.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, found, err := ReadPayload(p); err != nil || !found {
			b.Fatal(found, err)
		}
	}
}

// BenchmarkLoadGoodConfig: parsing, merging and validating the sample.
func BenchmarkLoadGoodConfig(b *testing.B) {
	for i := 0; i < b.N; i++ {
		l, err := Load(Options{File: goodFile})
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Config.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
