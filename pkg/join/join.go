// Package join waits for the kubelet's TLS bootstrap and its Node, then, with
// the node's own credentials, applies the pool's initial cordon and labels
// and reports taint drift. It also reads the Node back for status.
//
// Journal keys it sets (Recorder.Set) and reads back (Deps.Fact):
//
//	join.node-uid  UID of the Node this host last joined as; a new UID is a first join
//	join.cordoned  UID of the Node that was cordoned at its first join (cordon: true)
//	join.labels    JSON array of the label keys the pool applied (it owns them)
//	join.taints    JSON array of the taint keys registered at first join
package join

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
	"github.com/add2tkectl/add2tkectl/pkg/logging"
)

// Host paths of the kubelet's credentials.
const (
	BootstrapKubeconfig = "/etc/kubernetes/bootstrap-kubelet.conf"
	PKIDir              = "/var/lib/kubelet/pki"
	ClientCert          = PKIDir + "/kubelet-client-current.pem"
)

// Journal keys, see the package comment.
const (
	KeyNodeUID  = "join.node-uid"
	KeyCordoned = "join.cordoned"
	KeyLabels   = "join.labels"
	KeyTaints   = "join.taints"
)

// SatisfiedTimeout bounds the single request of Satisfied.
const SatisfiedTimeout = 2 * time.Second

// Deps is what the join needs from the host and the install.
type Deps struct {
	Root     host.Root
	Log      logrus.FieldLogger
	Config   *config.NodePoolJoin
	NodeName string        // the kubelet's node name (lower-cased hostname or its override)
	Timeout  time.Duration // --timeout: how long Run waits in all

	// Fact reads back a value the phase stored with Recorder.Set (the
	// journal). Nil reads nothing: every join then counts as the first.
	Fact func(key string) (string, bool)
	// RestartKubelet, when set, lets Run recover from stale credentials by
	// removing them and restarting the kubelet (once); nil makes Run return
	// a *StaleCredentialsError instead.
	RestartKubelet func(ctx context.Context) error
	// KubeletStarted returns when the running kubelet started (its unit's
	// ActiveEnterTimestamp: this host's clock, as the kubelet's heartbeats
	// are), or the zero time when it is not running. Only a Ready condition
	// reported since then counts; nil accepts any.
	KubeletStarted func(ctx context.Context) (time.Time, error)
	// Backoff spaces the polls; zero means DefaultBackoff.
	Backoff Backoff
	// NewClient builds API clients; nil means NewClient (client-go, HTTPS).
	NewClient ClientFactory
}

func (d Deps) check() error {
	switch {
	case d.Config == nil:
		return errors.New("join: no configuration")
	case d.NodeName == "":
		return errors.New("join: no node name")
	}
	return nil
}

func (d Deps) log() logrus.FieldLogger {
	if d.Log == nil {
		return logging.Discard()
	}
	return d.Log.WithField("phase", "join")
}

func (d Deps) client(kubeconfig string, timeout time.Duration) (kubeclient.Interface, error) {
	f := d.NewClient
	if f == nil {
		f = NewClient
	}
	return f(d.Root, kubeconfig, timeout)
}

func (d Deps) fact(key string) string {
	if d.Fact == nil {
		return ""
	}
	v, _ := d.Fact(key)
	return v
}

// factList reads a JSON array of strings from the journal; a damaged
// value reads as empty, which only makes the join reapply its settings.
func (d Deps) factList(key string) []string {
	var out []string
	if v := d.fact(key); v != "" {
		_ = json.Unmarshal([]byte(v), &out)
	}
	return out
}

func setList(rec interface{ Set(string, string) error }, key string, v []string) error {
	if v == nil {
		v = []string{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := rec.Set(key, string(b)); err != nil {
		return fmt.Errorf("record %s in the journal: %w", key, err)
	}
	return nil
}
