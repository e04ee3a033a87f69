package host

import (
	"context"
	"io/fs"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// File is a rendered file: its content and mode.
type File struct {
	Data []byte
	Mode fs.FileMode
}

// Files are the files the host phase writes, by host path:
// modules-load.d and sysctl.d, both 0644.
func (s *Settings) Files() map[string]File {
	out := map[string]File{}
	for p, b := range s.files() {
		out[p] = File{Data: b, Mode: 0o644}
	}
	return out
}

// WriteFiles writes what the host phase writes — Files, and fstab with its
// swap lines commented out — recording each as Apply does, and touches no
// kernel: no modprobe, no sysctl write, no swapoff, whatever Live says. It
// is the host phase of render (a node image), and the file half of Apply.
// It returns the host paths the host phase owns or edited under the root,
// written now or by an earlier run: the two files, and fstab when swap
// lines in it are commented out by us.
func (s *Settings) WriteFiles(ctx context.Context, rec phase.Recorder) ([]string, error) {
	if _, err := s.writeFiles(rec); err != nil {
		return nil, err
	}
	offline := *s
	offline.Live = false // swapOff then edits fstab only
	if _, err := offline.swapOff(ctx, rec); err != nil {
		return nil, err
	}
	paths := []string{ModulesLoadFile, SysctlFile}
	fstab, err := s.Root.readFstab()
	if err != nil {
		return nil, err
	}
	if _, n := RestoreFstabSwap(fstab); n > 0 {
		paths = append(paths, Fstab)
	}
	return paths, nil
}

// writeFiles writes Files, recording them; it returns what it changed, for
// the operator.
func (s *Settings) writeFiles(rec phase.Recorder) ([]string, error) {
	var changed []string
	files := s.files()
	for _, p := range []string{ModulesLoadFile, SysctlFile} {
		c, err := s.Root.WriteFile(rec, p, files[p], 0o644)
		if err != nil {
			return changed, err
		}
		if c {
			changed = append(changed, "wrote "+p)
		}
	}
	return changed, nil
}
