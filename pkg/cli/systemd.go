package cli

import (
	"context"
	"fmt"

	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// lazySystemd connects to systemd over D-Bus the first time a step asks for
// it (a dry run or a satisfied host may never ask); closeFn closes what was
// opened. why says what the command needs systemd for.
func lazySystemd(why string) (connect func(context.Context) (systemd.Manager, error), closeFn func()) {
	var sys *systemd.DBus
	connect = func(ctx context.Context) (systemd.Manager, error) {
		m, err := systemd.NewDBus(ctx)
		if err != nil {
			return nil, fmt.Errorf("connect to systemd over D-Bus: %w; %s", err, why)
		}
		sys = m
		return m, nil
	}
	closeFn = func() {
		if sys != nil {
			sys.Close()
		}
	}
	return connect, closeFn
}
