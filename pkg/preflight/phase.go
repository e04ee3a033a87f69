package preflight

import (
	"context"
	"encoding/base64"
	"sync"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Phase is the "preflight" install phase. The checks run in Satisfied, so a
// host that passes counts as unchanged (and a dry run shows the verdicts);
// Run returns the *FailedError of that same report. Warnings and ignored
// failures are logged.
//
// A configuration with caCertHashes and no caData leaves the phase with
// cluster.apiServer.caData set to the CA the api-server-reachable check
// read from cluster-info and pinned: the later phases use it as if it had
// been given. Without a pinned CA the install cannot go on, so that
// failure is not ignorable.
func Phase(in *Inputs, ignore []string, log logrus.FieldLogger) phase.Work {
	var (
		once sync.Once
		rep  Report
		err  error
	)
	if in.discovery == nil {
		in.discovery = &caDiscovery{}
	}
	check := func(ctx context.Context) error {
		once.Do(func() {
			rep, err = Run(ctx, in, ignore)
			logReport(log, rep)
			if err == nil {
				err = adoptDiscoveredCA(ctx, in)
			}
		})
		return err
	}
	return phase.Work{
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
		e := log.WithFields(logrus.Fields{"phase": "preflight", "check": r.Name, "durationSeconds": r.Took.Seconds()})
		switch {
		case r.Ignored:
			e.WithFields(logrus.Fields{"remediation": r.Remediation, "ignored": true}).Warn(r.Message)
		case r.Verdict == Warning:
			e.WithField("remediation", r.Remediation).Warn(r.Message)
		case r.Verdict == Error:
			e.WithField("remediation", r.Remediation).Error(r.Message)
		default:
			e.Debug(r.Message)
		}
	}
}

// adoptDiscoveredCA sets caData to the pinned CA from cluster-info when
// the configuration only pins it.
func adoptDiscoveredCA(ctx context.Context, in *Inputs) error {
	api := &in.Config.Cluster.APIServer
	if !needsDiscovery(*api) {
		return nil
	}
	in = in.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, in.Timeout)
	defer cancel()
	addr, err := ResolveAPIServer(ctx, api.Endpoint, in.Resolver)
	var disc DiscoveredCA
	if err == nil {
		disc, err = in.discovery.get(ctx, in, addr)
	}
	if err != nil {
		r := discoveryFailed(err)
		r.Name = checkAPIServer.Name
		r.Message += " (the kubelet needs the cluster CA: ignoring " + checkAPIServer.Name + " cannot stand in for it)"
		return &FailedError{Failed: []Result{r}}
	}
	api.CAData = base64.StdEncoding.EncodeToString(disc.PEM)
	return nil
}
