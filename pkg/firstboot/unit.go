// Package firstboot is the first-boot join: the systemd unit that runs
// install until it succeeds (add2tkectl-install.service), the result file
// its runs write (joined, still trying, gave up), and their removal.
package firstboot

import (
	"fmt"
	"path"
	"strconv"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// UnitName is the first-boot unit.
const UnitName = "add2tkectl-install.service"

// BinDir is where the user-data puts the bundled binary.
const BinDir = "/usr/local/bin"

// The retry schedule. systemd 252 (bookworm) has no RestartSteps= or
// RestartMaxDelaySec= (they came in 254), so RestartSec= is a fixed floor
// and the runner adds the growing part itself: before attempt n (n >= 2)
// it waits Backoff(n), reading n from the result file.
const (
	// MaxAttempts is how many install runs one boot tries before giving up.
	MaxAttempts = 30
	// RestartSec is systemd's fixed pause between a failed run and the next.
	RestartSec = 5 * time.Second
	// BackoffBase and BackoffMax shape the runner's own wait.
	BackoffBase = 5 * time.Second
	BackoffMax  = 30 * time.Second
	// GaveUpStatus is the runner's exit status once MaxAttempts failed:
	// RestartPreventExitStatus= makes it final (the unit is left failed).
	GaveUpStatus = 100
	// RunTimeout bounds one run (backoff wait + install, whose own
	// --timeout is 10 minutes).
	RunTimeout = 15 * time.Minute
)

// Backoff is the runner's wait before attempt n of a boot: none before the
// first, then 5 s doubling up to 30 s (RestartSec comes on top).
func Backoff(n int) time.Duration {
	if n < 2 {
		return 0
	}
	d := BackoffBase
	for i := 2; i < n && d < BackoffMax; i++ {
		d *= 2
	}
	return min(d, BackoffMax)
}

// Unit is the first-boot unit for the bundled binary named name (under
// BinDir).
//
// Ordering: After= and Wants=network-online.target, and After=
// cloud-final.service: on the first boot the user-data's runcmd (inside
// cloud-final) starts this unit with --no-block, so the start job simply
// waits for cloud-final to end (a blocking start would deadlock). On later
// boots multi-user.target starts it. DefaultDependencies=no because a target
// orders itself after what it wants, and Debian's cloud-final.service runs
// after multi-user.target: with the default, multi-user.target → this unit →
// cloud-final → multi-user.target is a cycle, and systemd breaks it by
// dropping this unit's start at every later boot. The dependencies the
// default would give, less that one, are spelled out.
//
// Retries: Restart=on-failure with a fixed RestartSec (see Backoff for the
// growing part); the runner gives up after MaxAttempts with GaveUpStatus,
// which RestartPreventExitStatus= makes final. StartLimitBurst= is the
// backstop when the runner itself cannot run (binary gone: 203/EXEC), and
// StartLimitIntervalSec= spans the whole schedule so it never resets midway.
func Unit(name string) systemd.Unit {
	bin := path.Join(BinDir, name)
	return systemd.Unit{
		Comment: []string{
			"Written by the user-data of `" + name + " cloud-init`: joins this host on first boot.",
			"Runs install until it succeeds; the outcome is in " + ResultPath + " and `" + name + " status`.",
		},
		Sections: []systemd.Section{
			{Name: "Unit", Directives: []systemd.Directive{
				systemd.D("Description", "add2tkectl: join this host to the cluster (first boot)"),
				systemd.D("DefaultDependencies", "no"),
				systemd.D("Requires", "sysinit.target"),
				systemd.D("Wants", "network-online.target"),
				systemd.D("After", "sysinit.target basic.target network-online.target cloud-final.service"),
				systemd.D("Conflicts", "shutdown.target"),
				systemd.D("Before", "shutdown.target"),
				systemd.D("ConditionPathExists", bin),
				systemd.D("StartLimitIntervalSec", "6h"),
				systemd.D("StartLimitBurst", strconv.Itoa(MaxAttempts+2)),
			}},
			{Name: "Service", Directives: []systemd.Directive{
				systemd.D("Type", "oneshot"),
				systemd.D("ExecStart", bin+" cloud-init run"),
				systemd.D("Restart", "on-failure"),
				systemd.D("RestartSec", seconds(RestartSec)),
				systemd.D("RestartPreventExitStatus", strconv.Itoa(GaveUpStatus)),
				systemd.D("TimeoutStartSec", seconds(RunTimeout)),
				systemd.D("StandardOutput", "journal"),
				systemd.D("StandardError", "journal"),
			}},
			{Name: "Install", Directives: []systemd.Directive{
				systemd.D("WantedBy", "multi-user.target"),
			}},
		},
	}
}

// RenderUnit returns the unit file's bytes.
func RenderUnit(name string) ([]byte, error) {
	if name == "" || path.Base(name) != name {
		return nil, fmt.Errorf("first-boot unit: binary name %q must be a plain file name", name)
	}
	return Unit(name).Render()
}

// UnitPath is where the unit is installed; WantsPath is its enablement.
var (
	UnitPath  = systemd.UnitPath(UnitName)
	WantsPath = path.Join(systemd.UnitDir, "multi-user.target.wants", UnitName)
)

func seconds(d time.Duration) string { return strconv.Itoa(int(d/time.Second)) + "s" }
