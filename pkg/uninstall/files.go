package uninstall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// removal is everything the files step removes, as host paths.
type removal struct {
	files []phase.FileRecord // the journal's files, outside paths.StateDir
	dirs  []string           // the journal's directories, deepest first
	trees []string           // products of our services, removed whole
	// emptied are directories install did not create whose entries are
	// the service's: the kubelet's root, the runtime's data dir.
	emptied []emptied
}

type emptied struct {
	dir  string
	keep func(name string) bool // an entry that is not the service's
	mode os.FileMode            // permissions to set back; 0 for none
}

func (u *Uninstall) removal() removal {
	var r removal
	keptData := ""
	if u.d.KeepData {
		keptData = u.dataDir()
	}
	for _, f := range u.d.Journal.Files() {
		if within(f.Path, paths.StateDir) || (keptData != "" && within(f.Path, keptData)) {
			continue
		}
		r.files = append(r.files, f)
	}
	for _, d := range u.d.Journal.Dirs() {
		if keptData != "" && within(keptData, d) {
			continue // the data dir, or a directory holding it
		}
		r.dirs = append(r.dirs, path.Clean(d))
	}
	sort.SliceStable(r.dirs, func(i, j int) bool { return len(r.dirs[i]) > len(r.dirs[j]) })
	for _, p := range u.products() {
		if keptData != "" && within(keptData, p) {
			continue
		}
		r.trees = append(r.trees, p)
	}
	for _, c := range u.d.Components.All() {
		if !u.unitsInstalled(c) {
			continue
		}
		for _, dir := range c.Footprint().Owned {
			if !u.ours(dir) {
				r.emptied = append(r.emptied, emptied{dir: dir})
			}
		}
	}
	if rt := u.runtime(); rt != nil && len(u.d.Journal.Units()) > 0 && !u.d.KeepData {
		if dd := u.dataDir(); dd != "" && !u.ours(dd) {
			before := u.dataDirEntries()
			e := emptied{dir: dd, keep: func(name string) bool { return before[name] || !rt.OwnsDataEntry(name) }}
			if m, err := strconv.ParseUint(u.d.Journal.Values()[install.KeyDataDirMode], 8, 32); err == nil {
				e.mode = os.FileMode(m).Perm()
			}
			r.emptied = append(r.emptied, e)
		}
	}
	if u.installed() {
		r.trees = append(r.trees, paths.CacheDir)
	}
	r.files = append(r.files, u.logs()...)
	return r
}

func (u *Uninstall) exists(p string) bool {
	_, err := os.Lstat(u.realParent(p))
	return err == nil
}

func (u *Uninstall) planFiles(context.Context) ([]string, error) {
	r := u.removal()
	var plan []string
	for _, f := range r.files {
		if u.exists(f.Path) {
			plan = append(plan, "remove "+f.Path)
		}
	}
	for _, d := range r.dirs {
		if u.exists(d) {
			plan = append(plan, "remove "+d+"/ and everything in it")
		}
	}
	for _, t := range r.trees {
		if u.exists(t) {
			plan = append(plan, "remove "+t+" (made by a service we installed)")
		}
	}
	for _, e := range r.emptied {
		names, err := u.entries(e)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			plan = append(plan, "remove "+path.Join(e.dir, n))
		}
		if st, err := os.Stat(u.real(e.dir)); err == nil && e.mode != 0 && st.Mode().Perm() != e.mode {
			plan = append(plan, fmt.Sprintf("set the permissions of %s back to %04o", e.dir, e.mode))
		}
	}
	return plan, nil
}

// entries are the names in an emptied directory that go.
func (u *Uninstall) entries(e emptied) ([]string, error) {
	des, err := os.ReadDir(u.real(e.dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range des {
		if e.keep == nil || !e.keep(de.Name()) {
			out = append(out, de.Name())
		}
	}
	return out, nil
}

// runFiles removes exactly the journal's files (a file changed since
// install is removed too, with a warning: it exists only because install
// wrote it), reloads systemd when unit files went, removes the journal's
// directories and the services' products — never through a mount — and
// then the empty parents install left (/etc/cni, /opt/cni ...).
func (u *Uninstall) runFiles(ctx context.Context) error {
	r := u.removal()
	var errs []error
	var removed []string
	unitsGone := false
	for _, f := range r.files {
		full := u.realParent(f.Path)
		st, err := os.Lstat(full)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.IsDir() {
			u.warn("files", "%s is a directory now, not the file install wrote: left alone", f.Path)
			continue
		}
		if st.Mode().IsRegular() && f.SHA256 != "" {
			if sum, err := fileSHA256(full); err == nil && sum != f.SHA256 {
				u.warn("files", "%s changed after install (sha256 %s, install wrote %s); removed anyway, as install put it there", f.Path, short(sum), short(f.SHA256))
			}
		}
		if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", full, err))
			continue
		}
		removed = append(removed, f.Path)
		unitsGone = unitsGone || within(f.Path, systemd.UnitDir)
	}
	if unitsGone || len(u.d.Journal.Units()) > 0 {
		m, err := u.systemd(ctx)
		if err == nil {
			err = m.DaemonReload(ctx)
		}
		if err == nil {
			for _, unit := range u.d.Journal.Units() {
				_ = m.ResetFailed(ctx, unit) // not failed, or already forgotten: fine
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range r.dirs {
		if protected[d] {
			u.warn("files", "the journal lists %s as created by install; it is a system directory and is left alone", d)
			continue
		}
		if err := u.removeAll(d); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, d)
	}
	for _, t := range r.trees {
		if st, err := os.Lstat(u.realParent(t)); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			// The operator's (a log dir moved to a data disk): the service
			// made what is behind it, but not the link; both stay.
			u.warn("files", "%s is a symlink, which no service we installed makes: left alone, with what it points to", t)
			continue
		}
		if err := u.removeAll(t); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, t)
	}
	for _, e := range r.emptied {
		names, err := u.entries(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, n := range names {
			if err := u.removeAll(path.Join(e.dir, n)); err != nil {
				errs = append(errs, err)
			}
		}
		if e.mode != 0 {
			if err := os.Chmod(u.real(e.dir), e.mode); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	u.pruneParents(removed)
	return errors.Join(errs...)
}

// removeAll deletes the host path p and what is in it, refusing to go
// through a mount (RemoveAll). The symlinks above p are resolved in the
// root; p itself, when a symlink, is removed as a link.
func (u *Uninstall) removeAll(p string) error {
	full := u.realParent(p)
	if _, err := os.Lstat(full); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := RemoveAll(full); err != nil {
		return fmt.Errorf("remove %s: %w", full, err)
	}
	return nil
}

// pruneParents removes the directories left empty above removed paths,
// up to a system directory: install's MkdirAll made them.
func (u *Uninstall) pruneParents(removed []string) {
	for _, p := range removed {
		for dir := path.Dir(path.Clean(p)); !protected[dir] && dir != "/" && dir != "."; dir = path.Dir(dir) {
			// rmdir, not remove: a symlink (the operator's) is never unlinked.
			err := unix.Rmdir(u.realParent(dir))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				break // not empty (or not ours to judge): stop here
			}
		}
	}
}

func (u *Uninstall) planState(context.Context) ([]string, error) {
	if u.exists(paths.StateDir) {
		return []string{"remove " + paths.StateDir + "/ (the journal last)"}, nil
	}
	return nil, nil
}

// runState removes add2tkectl's state, the journal last: until then, an
// interrupted uninstall still knows what to remove when run again.
func (u *Uninstall) runState(context.Context) error {
	dir := u.real(paths.StateDir)
	des, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	journal := path.Base(paths.JournalPath)
	for _, de := range des {
		if de.Name() == journal {
			continue
		}
		if err := RemoveAll(filepath.Join(dir, de.Name())); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(dir, journal)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return strings.TrimSpace(sum)
}

// logs are the files the installed components append to (the user
// script's log and the one rotated before it): the journal does not list
// them as files install wrote whole.
func (u *Uninstall) logs() []phase.FileRecord {
	var out []phase.FileRecord
	for _, c := range u.d.Components.All() {
		if !u.marked(c) && !u.unitsInstalled(c) {
			continue
		}
		for _, l := range c.Footprint().Logs {
			out = append(out, phase.FileRecord{Path: l})
		}
	}
	return out
}
