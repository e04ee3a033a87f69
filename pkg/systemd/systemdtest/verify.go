package systemdtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// SystemdAnalyzePackage is the Debian package that provides systemd-analyze.
const SystemdAnalyzePackage = "systemd"

// ErrNoSystemdAnalyze means systemd-analyze is not installed.
var ErrNoSystemdAnalyze = errors.New("systemd-analyze not found: install the Debian package \"" + SystemdAnalyzePackage + "\" to verify unit files")

// Verify runs VerifyUnits and fails t on any complaint; without
// systemd-analyze the test is skipped and says which package to install.
func Verify(t *testing.T, files map[string][]byte) {
	t.Helper()
	err := VerifyUnits(t.TempDir(), files)
	if errors.Is(err, ErrNoSystemdAnalyze) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Error(err)
	}
}

// VerifyUnits runs `systemd-analyze verify` on rendered unit files (host
// path -> content; drop-ins beside their unit) inside the scratch root dir,
// in which every command the units execute exists as a stub. Any output is
// a complaint: systemd-analyze exits 0 on an unknown key and only warns.
func VerifyUnits(dir string, files map[string][]byte) error {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		return ErrNoSystemdAnalyze
	}
	// The units they refer to (multi-user.target, network-online.target...).
	for _, sys := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		entries, _ := os.ReadDir(sys)
		for _, e := range entries {
			switch path.Ext(e.Name()) {
			case ".target", ".socket", ".slice":
				if b, err := os.ReadFile(filepath.Join(sys, e.Name())); err == nil {
					if err := write(filepath.Join(dir, "usr/lib/systemd/system", e.Name()), b, 0o644); err != nil {
						return err
					}
				}
			}
		}
	}
	var units []string
	for p, b := range files {
		if err := write(filepath.Join(dir, p), b, 0o644); err != nil {
			return err
		}
		if !strings.HasSuffix(path.Dir(p), ".d") {
			units = append(units, p)
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if !ok || !strings.HasPrefix(k, "Exec") || strings.TrimSpace(v) == "" {
				continue
			}
			cmd := strings.TrimLeft(strings.Fields(v)[0], "-@!+:")
			if strings.HasPrefix(cmd, "/") {
				if err := write(filepath.Join(dir, cmd), []byte("#!/bin/sh\n"), 0o755); err != nil {
					return err
				}
			}
		}
	}
	sort.Strings(units)
	var errs []error
	for _, u := range units {
		c := exec.Command(bin, "verify", "--man=no", "--root="+dir, u)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		err := c.Run()
		if err != nil || out.Len() > 0 {
			errs = append(errs, fmt.Errorf("systemd-analyze verify %s: %v\n%s", u, err, out.String()))
		}
	}
	return errors.Join(errs...)
}

func write(p string, b []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, b, mode)
}
