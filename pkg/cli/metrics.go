package cli

import (
	"runtime"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/metrics"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// recordRun writes a run of command into the site's metrics textfile, if
// it has one. A file that cannot be written is a warning: the run's result
// stands.
func recordRun(g *Globals, log logrus.FieldLogger, command string, started time.Time, res *phase.Result, health *metrics.Health, runErr error) {
	if g.Site == nil || g.Site.Metrics.TextfileDir == "" {
		return
	}
	r := metrics.Run{
		Command:  command,
		Success:  runErr == nil,
		Finished: time.Now(),
		Phases:   metrics.Phases(res),
		Health:   health,
	}
	r.Seconds = r.Finished.Sub(started).Seconds()
	if res != nil {
		r.Changed = res.Changed
	}
	b := metrics.Build{Version: version, Commit: commit, GoVersion: runtime.Version()}
	p, err := metrics.Write(host.Root{Dir: g.Root}, g.Site.Metrics.TextfileDir, b, r)
	if err != nil {
		log.WithError(err).Warn("could not write the metrics textfile; the run's result stands")
		return
	}
	log.WithField("path", p).Debug("metrics textfile written")
}
