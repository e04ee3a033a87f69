// Package install is the install workflow: the ordered list of its phases,
// read top to bottom. The phase runner (pkg/phase) does the rest.
package install

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/component"
	"github.com/add2tkectl/add2tkectl/pkg/components"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/join"
	"github.com/add2tkectl/add2tkectl/pkg/kubelet"
	"github.com/add2tkectl/add2tkectl/pkg/network"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/preflight"
	"github.com/add2tkectl/add2tkectl/pkg/runtime/images"
	"github.com/add2tkectl/add2tkectl/pkg/site"
	"github.com/add2tkectl/add2tkectl/pkg/systemd"
)

// Deps is what the install phases need, passed in explicitly: no globals,
// no hidden "/".
type Deps struct {
	Config *config.NodePoolJoin
	Root   host.Root
	Log    logrus.FieldLogger

	// Systemd connects to the service manager; called at most once, and only
	// by a phase that has work to do or state to check.
	Systemd func(ctx context.Context) (systemd.Manager, error)
	// Progress shows downloads (bars or plain lines).
	Progress artifact.Progress

	// IgnorePreflightErrors names checks whose failure is only a warning ("all" for every one).
	IgnorePreflightErrors []string
	// ArtifactsDir, when set, is the offline source of artifacts.
	ArtifactsDir string
	// Timeout bounds each wait (the node to join, a service to come up).
	Timeout time.Duration
	// Dialer overrides how preflight reaches the API server and COS (tests).
	Dialer preflight.Dialer
	// Site is the site's settings (proxy, registry mirrors); nil is none.
	Site *site.Settings
	// Unpacks unpacks archives as soon as they are downloaded, for the
	// runtime phase; nil unpacks them there. The caller closes it.
	Unpacks *artifact.Unpacks
}

// Phases returns the install phases in the order they run.
func Phases(d Deps) ([]phase.Phase, error) {
	if d.Progress == nil {
		d.Progress = artifact.NewProgress(io.Discard, false)
	}
	if err := CheckKubeletMove(d.Root, d.Config); err != nil {
		return nil, err
	}
	in, err := preflight.DefaultInputs(d.Root, d.Config)
	if err != nil {
		return nil, err
	}
	in.Offline = d.ArtifactsDir != ""
	if d.Dialer != nil {
		in.Dialer = d.Dialer
	}
	in.Proxy = d.proxyFunc()
	settings := host.NewSettings(d.Root, d.Config.Cluster.Network.Plugin)
	settings.Log = d.Log
	s := &steps{d: &d, arts: &artifacts{d: &d}}

	return Workflow.Phases(map[string]phase.Work{
		PhasePreflight:  preflight.Phase(in, d.IgnorePreflightErrors, d.Log),
		PhaseDownload:   {Satisfied: s.arts.Satisfied, Run: s.arts.Run},
		PhaseHost:       settings.Work(),
		PhaseRuntime:    {Satisfied: s.runtimeSatisfied, Run: s.runtimeRun, Detail: d.Config.NodePool.Runtime.Kind},
		PhaseImages:     {Satisfied: s.imagesSatisfied, Run: s.imagesRun},
		PhaseKubelet:    {Satisfied: s.kubeletSatisfied, Run: s.kubeletRun},
		PhaseJoin:       {Satisfied: s.joinSatisfied, Await: s.joinAwait, Run: s.joinRun},
		PhaseUserscript: s.userScriptWork(),
	}), nil
}

// steps holds what the phases share within one run.
type steps struct {
	d    *Deps
	arts *artifacts

	sysOnce sync.Once
	sys     systemd.Manager
	sysErr  error

	// joined is the Node the join phase's Satisfied read, if satisfied.
	joined *corev1.Node
}

func (s *steps) systemd(ctx context.Context) (systemd.Manager, error) {
	s.sysOnce.Do(func() {
		if s.d.Systemd == nil {
			s.sysErr = fmt.Errorf("no service manager")
			return
		}
		s.sys, s.sysErr = s.d.Systemd(ctx)
	})
	return s.sys, s.sysErr
}

// componentDeps is what every component's install needs, for the phase
// named; services connects to the service manager too.
func (s *steps) componentDeps(ctx context.Context, rec phase.Recorder, name string, services bool) (component.Deps, error) {
	arts, err := s.arts.get(ctx)
	if err != nil {
		return component.Deps{}, err
	}
	d := component.Deps{Root: s.d.Root, Log: s.d.Log.WithField("phase", name), Recorder: rec, Config: s.d.Config, Artifacts: arts, Site: s.d.Site, Unpacks: s.d.Unpacks}
	if site.ProxyOf(s.d.Site).Enabled() {
		// The services' proxy drop-ins keep the node's own address direct.
		ip, err := NodeIP(s.d.Config)
		if err != nil {
			return component.Deps{}, err
		}
		d.NodeIP = ip.String()
	}
	if services {
		if d.Systemd, err = s.systemd(ctx); err != nil {
			return component.Deps{}, err
		}
	}
	return d, nil
}

// runtime is the configured runtime component's install side.
func (s *steps) runtime(ctx context.Context, rec phase.Recorder) (component.Installer, error) {
	kind := s.d.Config.NodePool.Runtime.Kind
	rt := components.Default().Runtime(kind)
	if rt == nil {
		return nil, fmt.Errorf("nodePool.runtime.kind %q is no runtime add2tkectl installs", kind)
	}
	d, err := s.componentDeps(ctx, rec, PhaseRuntime, true)
	if err != nil {
		return nil, err
	}
	return rt.Installer(d, nil), nil
}

func (s *steps) runtimeSatisfied(ctx context.Context) (bool, error) {
	rt, err := s.runtime(ctx, nil)
	if err != nil {
		return undecided(err)
	}
	return rt.Satisfied(ctx)
}

func (s *steps) runtimeRun(ctx context.Context, rec phase.Recorder) error {
	rt, err := s.runtime(ctx, rec)
	if err != nil {
		return err
	}
	if err := RecordDataDir(s.d.Root, s.d.Config.NodePool.Runtime.DataDir, rec); err != nil {
		return err
	}
	_, err = rt.Install(ctx)
	return err
}

func (s *steps) imagesDeps(ctx context.Context, rec phase.Recorder) (images.Deps, error) {
	d, err := s.componentDeps(ctx, rec, PhaseImages, false)
	return images.Deps{Deps: d}, err
}

func (s *steps) imagesSatisfied(ctx context.Context) (bool, error) {
	d, err := s.imagesDeps(ctx, nil)
	if err != nil {
		return undecided(err)
	}
	return images.Satisfied(ctx, d)
}

func (s *steps) imagesRun(ctx context.Context, rec phase.Recorder) error {
	d, err := s.imagesDeps(ctx, rec)
	if err != nil {
		return err
	}
	_, err = images.Install(ctx, d)
	return err
}

func (s *steps) kubeletDeps(ctx context.Context, rec phase.Recorder) (kubelet.Deps, error) {
	d, err := s.componentDeps(ctx, rec, PhaseKubelet, true)
	if err != nil {
		return kubelet.Deps{}, err
	}
	ip, err := NodeIP(s.d.Config)
	if err != nil {
		return kubelet.Deps{}, err
	}
	return kubelet.Deps{Deps: d, NodeIP: ip.String(), CgroupV1: s.d.Root.Cgroup() != host.CgroupV2}, nil
}

func (s *steps) kubeletSatisfied(ctx context.Context) (bool, error) {
	d, err := s.kubeletDeps(ctx, nil)
	if err != nil {
		return undecided(err)
	}
	return kubelet.Satisfied(ctx, d)
}

func (s *steps) kubeletRun(ctx context.Context, rec phase.Recorder) error {
	d, err := s.kubeletDeps(ctx, rec)
	if err != nil {
		return err
	}
	// Credentials of an earlier join (another cluster, an expired or
	// foreign certificate) would keep the kubelet from bootstrapping anew.
	if jd, err := s.joinDeps(ctx); err == nil {
		if reason, err := join.DetectStaleCredentials(ctx, jd); err == nil && reason != "" {
			s.d.Log.WithFields(logrus.Fields{"phase": PhaseKubelet, "reason": reason}).Warn("removing the kubelet's stale credentials so that it bootstraps again")
			if err := join.RemoveStaleCredentials(s.d.Root); err != nil {
				return err
			}
		}
	}
	_, err = kubelet.Install(ctx, d)
	return err
}

func (s *steps) joinDeps(ctx context.Context) (join.Deps, error) {
	name, err := NodeName(s.d.Root)
	if err != nil {
		return join.Deps{}, err
	}
	j, err := phase.LoadJournal(s.d.Root.Dir)
	if err != nil {
		return join.Deps{}, err
	}
	values := j.Values()
	return join.Deps{
		Root: s.d.Root, Log: s.d.Log.WithField("phase", "join"), Config: s.d.Config,
		NodeName: name, Timeout: s.d.Timeout,
		Fact: func(k string) (string, bool) { v, ok := values[k]; return v, ok },
		RestartKubelet: func(ctx context.Context) error {
			m, err := s.systemd(ctx)
			if err != nil {
				return err
			}
			return m.Restart(ctx, kubelet.UnitName)
		},
		// A Ready condition counts only when the running kubelet reported it.
		KubeletStarted: func(ctx context.Context) (time.Time, error) {
			m, err := s.systemd(ctx)
			if err != nil {
				return time.Time{}, err
			}
			st, err := m.Status(ctx, kubelet.UnitName)
			if err != nil || !st.Active() {
				return time.Time{}, err
			}
			return st.ActiveSince, nil
		},
	}, nil
}

func (s *steps) joinSatisfied(ctx context.Context) (bool, error) {
	d, err := s.joinDeps(ctx)
	if err != nil {
		return false, err
	}
	ok, n, err := join.SatisfiedNode(ctx, d)
	s.joined = n
	return ok, err
}

// joinAwait waits for a joined Node to be Ready (after a reboot, the
// kubelet's first status), without counting as a change; the Node that
// joinSatisfied just read answers when it is Ready already.
func (s *steps) joinAwait(ctx context.Context) error {
	d, err := s.joinDeps(ctx)
	if err != nil {
		return err
	}
	if n := s.joined; n != nil && join.ReadyNow(ctx, d, n) {
		return nil
	}
	return join.AwaitReady(ctx, d)
}

func (s *steps) joinRun(ctx context.Context, rec phase.Recorder) error {
	d, err := s.joinDeps(ctx)
	if err != nil {
		return err
	}
	_, err = join.Run(ctx, d, rec) // it logs taint drift itself
	return err
}

// undecided is a Satisfied that could not gather what it checks against.
// Artifacts not downloaded yet (a fresh host, a dry run) are a definite
// "not satisfied": the download phase before it fetches them and this phase
// then installs from them. Anything else is returned: the phase cannot tell.
func undecided(err error) (bool, error) {
	if errors.Is(err, errNotDownloaded) {
		return false, nil
	}
	return false, err
}

// NodeIP is the source address of this host's route to the API server: the
// address the node is reached at over the private link.
func NodeIP(c *config.NodePoolJoin) (net.IP, error) {
	u, err := url.Parse(c.Cluster.APIServer.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("cluster.apiServer.endpoint: %w", err)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil {
		return nil, fmt.Errorf("cluster.apiServer.endpoint %q is not an IP address", u.Hostname())
	}
	return network.NodeIP(ip)
}

// NodeName is the name the kubelet registers: the host name, lower-cased.
func NodeName(root host.Root) (string, error) {
	h, err := root.Hostname()
	if err != nil {
		return "", fmt.Errorf("read the host name: %w", err)
	}
	return strings.ToLower(strings.TrimSpace(h)), nil
}
