package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/logging"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Journal keys of the facts HostSettings records, so Revert can undo them.
const (
	keyPrefix  = "host."
	keySysctl  = keyPrefix + "sysctl."     // + key = the value before install
	keyFstab   = keyPrefix + "fstab.swap." // + hash = an fstab line install disabled
	keyEdited  = keyPrefix + "edited:"     // + path = sha256 after the edit
	keyModule  = keyPrefix + "module."     // + name = "loaded": install loaded it
	keySwapOff = keyPrefix + "swapoff"     // = the swap devices install turned off
)

// Settings is the kernel side of a node: modules, sysctls and swap. It
// knows how to check, apply and revert them (the "host" phase).
type Settings struct {
	Root    Root
	Modules []string
	Sysctls []Sysctl
	// Live means acting on the running kernel too: modprobe, swapoff and
	// missing /proc/sys entries are errors. Off when rendering into a
	// directory that is not the host's root.
	Live bool
	Run  Command
	Log  logrus.FieldLogger
}

// NewSettings returns the settings for a network plugin, live when the root
// is the host's own.
func NewSettings(root Root, plugin string) *Settings {
	return &Settings{
		Root:    root,
		Modules: KernelModules(plugin),
		Sysctls: Sysctls(plugin),
		Live:    root.Dir == "" || root.Dir == "/",
		Run:     execCommand,
		Log:     logging.Discard(),
	}
}

func execCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, name, args...).CombinedOutput()
}

// Satisfied reports whether the host already is as Apply leaves it.
func (s *Settings) Satisfied(ctx context.Context) (bool, error) {
	for _, m := range s.Modules {
		if s.Root.Module(m) != ModuleLoaded {
			return false, nil
		}
	}
	for p, want := range s.files() {
		got, err := os.ReadFile(s.Root.Path(p))
		if err != nil || !bytes.Equal(got, want) {
			return false, nil
		}
	}
	for _, kv := range s.Sysctls {
		v, ok, err := s.Root.ReadSysctl(kv.Key)
		if err != nil {
			return false, err
		}
		if ok && v != kv.Value || !ok && s.Live {
			return false, nil
		}
	}
	if s.Live {
		if swaps, err := s.Root.ActiveSwaps(); err != nil || len(swaps) > 0 {
			return false, err
		}
	}
	fstab, err := s.Root.readFstab()
	if err != nil {
		return false, err
	}
	_, disabled := DisableFstabSwap(fstab)
	return len(disabled) == 0, nil
}

func (s *Settings) files() map[string][]byte {
	return map[string][]byte{
		ModulesLoadFile: RenderModulesLoad(s.Modules),
		SysctlFile:      RenderSysctl(s.Sysctls),
	}
}

// Apply loads the modules, writes and applies the sysctls, and turns swap
// off now and in fstab, recording each change before making it. It returns
// what it changed, for the operator; nothing when all was in place.
func (s *Settings) Apply(ctx context.Context, rec phase.Recorder) ([]string, error) {
	var changed []string
	for _, m := range s.Modules {
		switch s.Root.Module(m) {
		case ModuleLoaded:
			continue
		case ModuleMissing:
			if !s.Live {
				continue
			}
			return changed, fmt.Errorf("kernel module %s is neither loaded nor available for kernel modules of this release: install the kernel's module package or build it in", m)
		}
		if !s.Live {
			continue
		}
		if err := rec.Set(keyModule+m, "loaded"); err != nil {
			return changed, err
		}
		if err := loadModule(ctx, s.Run, m); err != nil {
			return changed, err
		}
		changed = append(changed, "loaded kernel module "+m)
	}

	wrote, err := s.writeFiles(rec)
	changed = append(changed, wrote...)
	if err != nil {
		return changed, err
	}

	for _, kv := range s.Sysctls {
		v, ok, err := s.Root.ReadSysctl(kv.Key)
		if err != nil {
			return changed, err
		}
		if !ok {
			if s.Live {
				return changed, fmt.Errorf("sysctl %s does not exist in this kernel (its module is not loaded): load it and run install again", kv.Key)
			}
			continue
		}
		// Writes change the running kernel (the whole machine in a
		// container): only when the value differs.
		if v == kv.Value {
			continue
		}
		if err := rec.Set(keySysctl+kv.Key, v); err != nil {
			return changed, err
		}
		if err := s.Root.writeSysctl(kv.Key, kv.Value); err != nil {
			return changed, err
		}
		s.Log.WithFields(logrus.Fields{"sysctl": kv.Key, "from": v, "to": kv.Value}).Info("kernel setting changed")
		changed = append(changed, fmt.Sprintf("set %s=%s (was %s)", kv.Key, kv.Value, v))
	}

	if err := s.recordKubeletSysctls(rec); err != nil {
		return changed, err
	}
	c, err := s.swapOff(ctx, rec)
	return append(changed, c...), err
}

func (s *Settings) swapOff(ctx context.Context, rec phase.Recorder) ([]string, error) {
	var changed []string
	fstab, err := s.Root.readFstab()
	if err != nil {
		return nil, err
	}
	edited, disabled := DisableFstabSwap(fstab)
	if len(disabled) > 0 {
		for _, l := range disabled {
			if err := rec.Set(fstabKey(l), l); err != nil {
				return nil, err
			}
		}
		mode := fs.FileMode(0o644)
		if st, err := os.Stat(s.Root.Path(Fstab)); err == nil {
			mode = st.Mode().Perm()
		}
		if _, err := s.Root.WriteFile(editRecorder{rec}, Fstab, edited, mode); err != nil {
			return nil, err
		}
		s.Log.WithField("lines", len(disabled)).Info("swap disabled in /etc/fstab; uninstall restores it")
		changed = append(changed, fmt.Sprintf("commented out %d swap line(s) in %s", len(disabled), Fstab))
	}
	if !s.Live {
		return changed, nil
	}
	swaps, err := s.Root.ActiveSwaps()
	if err != nil || len(swaps) == 0 {
		return changed, err
	}
	if err := rec.Set(keySwapOff, strings.Join(swaps, ",")); err != nil {
		return changed, err
	}
	if out, err := s.Run(ctx, "swapoff", "-a"); err != nil {
		return changed, fmt.Errorf("swapoff -a: %w: %s (free memory so swap can be turned off, or turn it off by hand)", err, strings.TrimSpace(string(out)))
	}
	s.Log.WithField("devices", swaps).Warn("swap turned off: the kubelet requires it")
	return append(changed, "turned swap off: "+strings.Join(swaps, ", ")), nil
}

// RevertPlan lists what Revert would do, in its order; empty means the
// host holds nothing of Apply's any more.
func (s *Settings) RevertPlan(values map[string]string) ([]string, error) {
	var plan []string
	for _, p := range []string{ModulesLoadFile, SysctlFile} {
		if _, err := os.Lstat(s.Root.Path(p)); err == nil {
			plan = append(plan, "remove "+p)
		}
	}
	restore, err := s.sysctlsToRestore(values)
	if err != nil {
		return nil, err
	}
	for _, r := range restore {
		if r.current != r.before {
			plan = append(plan, fmt.Sprintf("set %s back to %s", r.key, r.before))
		}
	}
	if b, err := os.ReadFile(s.Root.Path(Fstab)); err == nil && bytes.Contains(b, []byte(fstabMarker)) {
		plan = append(plan, "restore the swap lines of "+Fstab)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if _, ok := values[keySwapOff]; ok && s.Live && len(plan) > 0 {
		plan = append(plan, "turn swap on again (swapon -a)")
	}
	return plan, nil
}

// restore is a sysctl Apply changed, with its value before install.
type restore struct{ key, before, current string }

// sysctlsToRestore are the sysctls of the journal's facts that Revert
// sets back: present, and not changed by someone else since (still at the
// value install set, or one install does not set).
func (s *Settings) sysctlsToRestore(values map[string]string) ([]restore, error) {
	ours := map[string]string{}
	for _, kv := range append(append([]Sysctl(nil), KubeletSysctls...), s.Sysctls...) {
		ours[kv.Key] = kv.Value
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []restore
	var errs []error
	for _, k := range keys {
		key, ok := strings.CutPrefix(k, keySysctl)
		if !ok {
			continue
		}
		cur, present, err := s.Root.ReadSysctl(key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if want, known := ours[key]; !present || (known && cur != want) {
			continue // gone, or changed by someone else since: leave it
		}
		out = append(out, restore{key: key, before: values[k], current: cur})
	}
	return out, errors.Join(errs...)
}

// Revert undoes what Apply recorded: the two files go, the sysctls Apply
// changed get their old values back (unless someone changed them since),
// the fstab swap lines come back, and swap is turned on again if Apply
// turned it off. Modules stay loaded: something else may use them by now.
// values are the journal's facts; those of other components are ignored.
func (s *Settings) Revert(ctx context.Context, values map[string]string) error {
	var errs []error
	for _, p := range []string{ModulesLoadFile, SysctlFile} {
		if err := os.Remove(s.Root.Path(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}

	restore, err := s.sysctlsToRestore(values)
	if err != nil {
		errs = append(errs, err)
	}
	for _, r := range restore {
		if err := s.Root.writeSysctl(r.key, r.before); err != nil {
			errs = append(errs, err)
		}
	}

	fstab, err := s.Root.readFstab()
	if err != nil {
		errs = append(errs, err)
	} else if restored, n := RestoreFstabSwap(fstab); n > 0 {
		mode := fs.FileMode(0o644)
		if st, err := os.Stat(s.Root.Path(Fstab)); err == nil {
			mode = st.Mode().Perm()
		}
		if _, err := s.Root.WriteFile(discardRecorder{}, Fstab, restored, mode); err != nil {
			errs = append(errs, err)
		}
	}
	if _, off := values[keySwapOff]; off && s.Live {
		if out, err := s.Run(ctx, "swapon", "-a"); err != nil {
			errs = append(errs, fmt.Errorf("swapon -a: %w: %s (turn swap back on by hand)", err, strings.TrimSpace(string(out))))
		}
	}
	return errors.Join(errs...)
}
