package firstboot

import (
	"testing"
	"time"

	"github.com/add2tkectl/add2tkectl/internal/golden"
	"github.com/add2tkectl/add2tkectl/pkg/systemd/systemdtest"
)

const name = "add2tkectl-cls-m57oxxxp-np-3kd9a1bc"

func TestUnitMatchesGoldenAndPassesSystemdAnalyze(t *testing.T) {
	b, err := RenderUnit(name)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "add2tkectl-install.service.golden", b)
	systemdtest.Verify(t, map[string][]byte{UnitPath: b})
}

// TestUnitHasNoOrderingCycleWithCloudInit boots, in systemd-analyze's
// transaction, multi-user.target wanting this unit (as enabled) and
// cloud-final.service ordered as Debian's cloud-init orders it (after
// multi-user.target): a cycle there makes systemd drop this unit's start
// job on every later boot, silently.
func TestUnitHasNoOrderingCycleWithCloudInit(t *testing.T) {
	b, err := RenderUnit(name)
	if err != nil {
		t.Fatal(err)
	}
	systemdtest.Verify(t, map[string][]byte{
		UnitPath: b,
		"/etc/systemd/system/cloud-final.service": []byte("[Unit]\nDescription=Cloud-init final stage\n" +
			"After=network-online.target cloud-config.service rc-local.service multi-user.target\nWants=network-online.target\n" +
			"[Service]\nType=oneshot\nExecStart=/usr/bin/cloud-init modules --mode=final\n"),
		"/etc/systemd/system/multi-user.target.d/enabled.conf": []byte("[Unit]\nWants=" + UnitName + " cloud-final.service\n"),
		"/etc/systemd/system/boot-check.target":                []byte("[Unit]\nDescription=A boot\nWants=multi-user.target\n"),
	})
}

func TestUnitRefusesAPathAsName(t *testing.T) {
	for _, n := range []string{"", "../x", "/usr/bin/x", "a/b"} {
		if _, err := RenderUnit(n); err == nil {
			t.Errorf("RenderUnit(%q) accepted", n)
		}
	}
}

func TestBackoffGrowsThenCaps(t *testing.T) {
	want := map[int]time.Duration{0: 0, 1: 0, 2: 5 * time.Second, 3: 10 * time.Second, 4: 20 * time.Second, 5: 30 * time.Second, 6: 30 * time.Second, MaxAttempts: 30 * time.Second}
	for n, w := range want {
		if got := Backoff(n); got != w {
			t.Errorf("Backoff(%d) = %s, want %s", n, got, w)
		}
	}
}

// TestStartLimitOutlastsTheSchedule: systemd's start limit is only a
// backstop; it must not stop the runner's own schedule before MaxAttempts.
func TestStartLimitOutlastsTheSchedule(t *testing.T) {
	var typical time.Duration
	for n := 1; n <= MaxAttempts; n++ {
		typical += Backoff(n) + RestartSec + time.Minute
	}
	if typical > 6*time.Hour {
		t.Errorf("StartLimitIntervalSec=6h is shorter than %d attempts of a minute: %s", MaxAttempts, typical)
	}
}
