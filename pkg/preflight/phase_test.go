package preflight

import (
	"context"
	"errors"
	"testing"

	"github.com/sirupsen/logrus"
	"github.com/sirupsen/logrus/hooks/test"
)

func TestPhaseSatisfiedWhenChecksPassAndFailsWithTheReport(t *testing.T) {
	log, hook := test.NewNullLogger()
	log.SetLevel(logrus.DebugLevel)
	in := healthyHost(t)
	in.Offline = true
	in.EUID = 1000
	write(t, in.Root.Dir, "/proc/swaps", "Filename\tType\n/swapfile file 1 0 -2\n")

	// Only local checks: give it an API server config that fails fast and
	// ignore those network checks by name.
	ignore := []string{"root", "api-server-reachable", "node-ip"}
	p := Phase(in, ignore, log)
	ok, err := p.Satisfied(context.Background())
	if err != nil || !ok {
		t.Fatalf("Satisfied = %v, %v; want true with the failures ignored", ok, err)
	}
	var sawIgnored, sawSwap bool
	for _, e := range hook.AllEntries() {
		if e.Data["check"] == "root" && e.Level == logrus.WarnLevel {
			sawIgnored = true
		}
		if e.Data["check"] == "swap" && e.Level == logrus.WarnLevel {
			sawSwap = true
		}
	}
	if !sawIgnored || !sawSwap {
		t.Errorf("warnings not logged: ignored root %v, swap %v", sawIgnored, sawSwap)
	}

	p = Phase(in, []string{"api-server-reachable", "node-ip"}, nil)
	if ok, _ := p.Satisfied(context.Background()); ok {
		t.Fatal("Satisfied with root failing")
	}
	var fe *FailedError
	if err := p.Run(context.Background(), nil); !errors.As(err, &fe) || fe.Failed[0].Name != "root" {
		t.Errorf("Run = %v, want *FailedError for root", err)
	}
}
