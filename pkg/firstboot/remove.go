package firstboot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// Files are what first boot leaves on a host: the unit, its enablement and
// the result file.
func Files() []string { return []string{WantsPath, UnitPath, ResultPath} }

// Plan lists what Remove would do under root: empty when first boot never
// ran on this host.
func Plan(root string) []string {
	var plan []string
	if exists(root, UnitPath) || exists(root, WantsPath) {
		plan = append(plan, "stop, disable and remove "+UnitName)
	}
	if exists(root, ResultPath) {
		plan = append(plan, "remove "+ResultPath)
	}
	return plan
}

// Remove stops the first-boot unit first (a retry must not install again
// while, or after, uninstall runs), then removes its enablement, the unit
// and the result file, and reloads systemd. connect is called only when the
// unit exists. Nothing there: nothing done.
func Remove(ctx context.Context, root string, connect func(context.Context) (systemd.Manager, error)) error {
	unit := exists(root, UnitPath) || exists(root, WantsPath)
	var errs []error
	var m systemd.Manager
	if unit {
		var err error
		if m, err = connect(ctx); err != nil {
			return fmt.Errorf("first boot: %w", err)
		}
		if err := m.Stop(ctx, UnitName); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", UnitName, err))
		}
	}
	for _, p := range Files() {
		if err := os.Remove(filepath.Join(root, p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("first boot: %w", err))
		}
	}
	if unit {
		if err := m.DaemonReload(ctx); err != nil {
			errs = append(errs, err)
		}
		_ = m.ResetFailed(ctx, UnitName) // not failed, or already forgotten: fine
	}
	return errors.Join(errs...)
}

func exists(root, p string) bool {
	_, err := os.Lstat(filepath.Join(root, p))
	return err == nil
}
