package preflight

import (
	"context"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Phase is the "preflight" install phase. The checks run in Satisfied, so a
// host that passes counts as unchanged (and a dry run shows the verdicts);
// Run returns the *FailedError of that same report. Warnings and ignored
// failures are logged.
func Phase(in *Inputs, ignore []string, log logrus.FieldLogger) phase.Phase {
	var (
		once sync.Once
		rep  Report
		err  error
	)
	check := func(ctx context.Context) error {
		once.Do(func() {
			rep, err = Run(ctx, in, ignore)
			logReport(log, rep)
		})
		return err
	}
	return phase.Phase{
		Name:        "preflight",
		Description: "check that this host can join the cluster",
		Satisfied: func(ctx context.Context) (bool, error) {
			if e := check(ctx); e != nil {
				return false, nil // Run reports it, as the phase's failure
			}
			return true, nil
		},
		Run: func(ctx context.Context, _ phase.Recorder) error {
			return check(ctx)
		},
	}
}

func logReport(log logrus.FieldLogger, rep Report) {
	if log == nil {
		return
	}
	for _, r := range rep.Results {
		e := log.WithFields(logrus.Fields{"phase": "preflight", "check": r.Name})
		switch {
		case r.Ignored:
			e.WithField("remediation", r.Remediation).Warnf("%s (ignored)", r.Message)
		case r.Verdict == Warning:
			e.WithField("remediation", r.Remediation).Warn(r.Message)
		case r.Verdict == Error:
			e.WithField("remediation", r.Remediation).Error(r.Message)
		default:
			e.Debug(r.Message)
		}
	}
}
