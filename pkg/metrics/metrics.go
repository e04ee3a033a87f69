// Package metrics writes the Prometheus textfile that node_exporter's
// textfile collector reads: add2tkectl.prom in the site's
// metrics.textfileDir (under --root), with the build, the last run of each
// command (install, uninstall, status), the phases of the last install and
// uninstall, and the node's health as status last saw it. Each command
// replaces its own series and keeps the others' from the file before.
package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/add2tkectl/add2tkectl/pkg/atomicfile"
	"github.com/add2tkectl/add2tkectl/pkg/host"
)

// FileName is the textfile's name in the textfile directory.
const FileName = "add2tkectl.prom"

// Prefix starts every metric's name.
const Prefix = "add2tkectl_"

// The metrics' names.
const (
	BuildInfo                = Prefix + "build_info"
	LastRunSuccess           = Prefix + "last_run_success"
	LastRunTimestamp         = Prefix + "last_run_timestamp_seconds"
	LastRunDuration          = Prefix + "last_run_duration_seconds"
	LastRunChanged           = Prefix + "last_run_changed"
	PhaseDuration            = Prefix + "phase_duration_seconds"
	StatusHealthy            = Prefix + "status_healthy"
	StatusComponentHealthy   = Prefix + "status_component_healthy"
	StatusDrift              = Prefix + "status_drift"
	commandLabel, phaseLabel = "command", "phase"
)

// Build is the running binary.
type Build struct {
	Version, Commit, GoVersion string
}

// Phase is one phase's or step's duration in a run.
type Phase struct {
	Name    string
	Seconds float64
}

// Component is one part of the node status judges.
type Component struct {
	Name    string
	Healthy bool
}

// Health is status's verdict.
type Health struct {
	Healthy    bool
	Components []Component
	// Drift is whether the host differs from the configuration.
	Drift bool
}

// Run is one command's outcome.
type Run struct {
	// Command is install, uninstall or status.
	Command  string
	Success  bool
	Finished time.Time
	Seconds  float64
	Changed  bool
	// Phases are the phases (install) or steps (uninstall) the run reached.
	Phases []Phase
	// Health is status's verdict; nil for other commands.
	Health *Health
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// families are this run's metric families, from a registry of their own.
func families(b Build, r Run) ([]*dto.MetricFamily, error) {
	reg := prometheus.NewPedanticRegistry()
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	gauge(BuildInfo, "The add2tkectl that wrote this file: its version, commit and Go version (always 1).", "version", "commit", "goversion").
		WithLabelValues(b.Version, b.Commit, b.GoVersion).Set(1)
	gauge(LastRunSuccess, "Whether the command's last run succeeded (1) or failed (0).", commandLabel).WithLabelValues(r.Command).Set(b2f(r.Success))
	gauge(LastRunTimestamp, "When the command's last run finished, in seconds since the Unix epoch.", commandLabel).WithLabelValues(r.Command).Set(float64(r.Finished.UnixNano()) / 1e9)
	gauge(LastRunDuration, "How long the command's last run took, in seconds.", commandLabel).WithLabelValues(r.Command).Set(r.Seconds)
	gauge(LastRunChanged, "Whether the command's last run changed the host (1) or found it as it should be (0).", commandLabel).WithLabelValues(r.Command).Set(b2f(r.Changed))
	if len(r.Phases) > 0 {
		g := gauge(PhaseDuration, "How long each phase of the last install, or step of the last uninstall, took, in seconds.", commandLabel, phaseLabel)
		for _, p := range r.Phases {
			g.WithLabelValues(r.Command, p.Name).Set(p.Seconds)
		}
	}
	if h := r.Health; h != nil {
		gauge(StatusHealthy, "Whether status last found the node healthy (1) or degraded or not installed (0).").WithLabelValues().Set(b2f(h.Healthy))
		g := gauge(StatusComponentHealthy, "Whether status last found each part of the node healthy (1) or not (0).", "component")
		for _, c := range h.Components {
			g.WithLabelValues(c.Name).Set(b2f(c.Healthy))
		}
		gauge(StatusDrift, "Whether status last found the host drifted from the configuration: versions, labels, taints or files (1) or not (0).").WithLabelValues().Set(b2f(h.Drift))
	}
	return reg.Gather()
}

// Render returns the textfile after run r: its own families, and those of
// the file before (old, may be empty) that r does not replace: the series
// of other commands, and status's health when r is not a status.
func Render(old []byte, b Build, r Run) ([]byte, error) {
	mfs, err := merged(old, b, r)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&out, mf); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

func merged(old []byte, b Build, r Run) ([]*dto.MetricFamily, error) {
	if r.Command == "" {
		return nil, errors.New("metrics: a run needs its command")
	}
	mfs, err := families(b, r)
	if err != nil {
		return nil, err
	}
	byName := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	prev, err := parse(old)
	if err != nil {
		// A damaged file is replaced: the metrics of this run matter more.
		prev = nil
	}
	for name, pmf := range prev {
		if !strings.HasPrefix(name, Prefix) || name == BuildInfo {
			continue
		}
		var keep []*dto.Metric
		for _, m := range pmf.Metric {
			cmd, hasCmd := label(m, commandLabel)
			switch {
			case hasCmd && cmd != r.Command:
				keep = append(keep, m)
			case !hasCmd && byName[name] == nil:
				keep = append(keep, m) // status's health, kept by install and uninstall
			}
		}
		if len(keep) == 0 {
			continue
		}
		if cur := byName[name]; cur != nil {
			if cur.GetType() != pmf.GetType() {
				continue // written by another version as something else: ours wins
			}
			cur.Metric = append(cur.Metric, keep...)
			continue
		}
		pmf.Metric = keep
		byName[name] = pmf
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, mf := range byName {
		sort.Slice(mf.Metric, func(i, j int) bool { return labelKey(mf.Metric[i]) < labelKey(mf.Metric[j]) })
		out = append(out, mf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

func parse(b []byte) (map[string]*dto.MetricFamily, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(bytes.NewReader(b))
}

func label(m *dto.Metric, name string) (string, bool) {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue(), true
		}
	}
	return "", false
}

func labelKey(m *dto.Metric) string {
	var b strings.Builder
	for _, l := range m.Label {
		b.WriteString(l.GetName() + "=" + l.GetValue() + "\x00")
	}
	return b.String()
}

// Write writes the textfile for run r into dir (a host path under root)
// atomically, with client_golang's WriteToTextfile (a temporary file in dir,
// then a rename, so node_exporter never reads half a file), keeping the
// other commands' series of the file before. It returns the file's path.
func Write(root host.Root, dir string, b Build, r Run) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("metrics: the textfile directory %q is not absolute", dir)
	}
	full := root.Path(filepath.Join(dir, FileName))
	old, err := os.ReadFile(full)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return full, fmt.Errorf("read the metrics file before: %w", err)
	}
	mfs, err := merged(old, b, r)
	if err != nil {
		return full, err
	}
	if err := atomicfile.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return full, fmt.Errorf("create the textfile directory %s: %w", filepath.Dir(full), err)
	}
	gather := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return mfs, nil })
	if err := prometheus.WriteToTextfile(full, gather); err != nil {
		return full, fmt.Errorf("write %s: %w", full, err)
	}
	return full, nil
}
