package artifact

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"
)

// BenchmarkSHA256 is the hashing ceiling of a download.
func BenchmarkSHA256(b *testing.B) {
	buf := bytes.Repeat([]byte{0x5a}, copyBufSize)
	h := sha256.New()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		h.Write(buf)
	}
}

// BenchmarkCopyHash is the download's inner loop: read, write to the
// partial file, hash, 64 MiB per iteration.
func BenchmarkCopyHash(b *testing.B) {
	const size = 64 << 20
	src := bytes.Repeat([]byte{0xa5}, size)
	a := Artifact{Name: "bench", Size: size, SHA256: "0000000000000000000000000000000000000000000000000000000000000000"}
	dir := b.TempDir()
	b.SetBytes(size)
	for b.Loop() {
		p, err := openPartial(b.Context(), dir, a, true, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.copyFrom(onlyReader{bytes.NewReader(src)}, size, nopBar{}); err != nil {
			b.Fatal(err)
		}
		p.discard()
	}
}

// onlyReader hides bytes.Reader's WriterTo, as a network body would.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
