package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// A bundled executable is the plain executable followed by the payload (the
// configuration as JSON) and a fixed-size trailer at the very end of the file:
//
//	payload | sha256(payload) [32] | len(payload) uint64 big-endian [8] | magic [16]
//
// Only the tail is read at start-up, so a 60 MB binary costs two small reads.
const trailerSize = sha256.Size + 8 + 16 // 16 = len(trailerMagic)

const trailerMagic = "ADD2TKE.PAYLOAD1"

// Trailer returns what follows the executable: the payload and its trailer.
func Trailer(payload []byte) []byte {
	sum := sha256.Sum256(payload)
	out := make([]byte, 0, len(payload)+trailerSize)
	out = append(out, payload...)
	out = append(out, sum[:]...)
	out = binary.BigEndian.AppendUint64(out, uint64(len(payload)))
	return append(out, trailerMagic...)
}

// ReadPayloadFrom reads the payload at the end of an executable of the given
// size. It returns where the plain executable ends (size when there is no
// payload) and found=false for an executable without one. A trailer whose
// length or checksum is wrong is ErrCorruptPayload.
func ReadPayloadFrom(r io.ReaderAt, size int64) (payload []byte, exeSize int64, found bool, err error) {
	if size < trailerSize {
		return nil, size, false, nil
	}
	var tr [trailerSize]byte
	if _, err := r.ReadAt(tr[:], size-trailerSize); err != nil {
		return nil, 0, false, fmt.Errorf("read the bundled configuration: %w", err)
	}
	if string(tr[trailerSize-len(trailerMagic):]) != trailerMagic {
		return nil, size, false, nil
	}
	n := binary.BigEndian.Uint64(tr[sha256.Size : sha256.Size+8])
	if n > MaxDocument || int64(n) > size-trailerSize {
		return nil, 0, false, fmt.Errorf("%w: its trailer claims %d bytes; download the executable again from the console, or bundle it again", ErrCorruptPayload, n)
	}
	exeSize = size - trailerSize - int64(n)
	payload = make([]byte, n)
	if _, err := r.ReadAt(payload, exeSize); err != nil {
		return nil, 0, false, fmt.Errorf("read the bundled configuration: %w", err)
	}
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], tr[:sha256.Size]) {
		return nil, 0, false, fmt.Errorf("%w: its checksum does not match (the file was truncated or altered); download the executable again from the console, or bundle it again", ErrCorruptPayload)
	}
	return payload, exeSize, true, nil
}

// ReadPayload reads the payload bundled into the executable at path.
func ReadPayload(path string) (payload []byte, found bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("cannot open the executable to read its bundled configuration: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, false, err
	}
	payload, _, found, err = ReadPayloadFrom(f, st.Size())
	return payload, found, err
}

// Bundle writes exe (of the given size) to w with payload as its only
// bundled configuration: a payload exe already carries is replaced, never
// stacked. It returns the bytes written.
func Bundle(w io.Writer, exe io.ReaderAt, size int64, payload []byte) (int64, error) {
	if len(payload) > MaxDocument {
		return 0, fmt.Errorf("the configuration is %d bytes, more than the %d a bundle may carry", len(payload), MaxDocument)
	}
	_, exeSize, _, err := ReadPayloadFrom(exe, size)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(w, io.NewSectionReader(exe, 0, exeSize))
	if err != nil {
		return n, err
	}
	m, err := w.Write(Trailer(payload))
	return n + int64(m), err
}
