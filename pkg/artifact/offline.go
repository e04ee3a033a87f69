package artifact

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/add2tkectl/add2tkectl/pkg/atomicfile"
)

// An offline directory (install --artifacts-dir, artifacts pull --to) holds
// the signed envelope as manifest.json and each artifact as a file named
// OfflineName(a), e.g. kubelet-v1.35.4-linux-amd64, image_pause-3.10-linux-amd64.
// Nothing in it is trusted: the envelope is verified with the configured
// public key and every file against the manifest's size and sha256.

// LoadOffline reads and verifies the manifest of an offline directory.
func LoadOffline(dir, pubPEM string) (*Manifest, []byte, error) {
	env, err := os.ReadFile(filepath.Join(dir, OfflineManifest))
	if err != nil {
		return nil, nil, &Error{Op: "offline", Err: fmt.Errorf("%w; an offline directory holds the signed manifest as %s (fill it with `add2tkectl artifacts pull --to DIR`)", err, OfflineManifest)}
	}
	m, err := VerifyManifest(env, "", pubPEM)
	if err != nil {
		return nil, nil, err
	}
	return m, env, nil
}

// WriteOffline lays out dir for --artifacts-dir: the envelope as
// manifest.json (0600: it may carry presigned URLs) and a copy of each
// verified local artifact, each written to a temporary file and renamed.
// It returns the file names written.
func WriteOffline(dir string, envelope []byte, locals map[string]Local) ([]string, error) {
	fail := func(err error) ([]string, error) { return nil, &Error{Op: "offline", Err: err} }
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail(err)
	}
	names := make([]string, 0, len(locals))
	for _, l := range locals {
		names = append(names, l.Name)
	}
	sort.Strings(names)
	var written []string
	for _, n := range names {
		l := locals[n]
		name := OfflineName(l.Artifact)
		if err := copyAtomic(l.Path, filepath.Join(dir, name), 0o644); err != nil {
			return fail(err)
		}
		written = append(written, name)
	}
	if err := atomicfile.Write(filepath.Join(dir, OfflineManifest), envelope, 0o600); err != nil {
		return fail(err)
	}
	return append(written, OfflineManifest), nil // each write synced the directory
}

func copyAtomic(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	w, err := atomicfile.New(dst, mode)
	if err != nil {
		return err
	}
	defer w.Cleanup()
	if _, err := io.Copy(w.File, in); err != nil { // copy_file_range where the kernel can
		return err
	}
	return w.Commit()
}
