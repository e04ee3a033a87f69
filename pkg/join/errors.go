package join

import (
	"fmt"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// Step names what the join waits for, in order.
type Step string

// The steps of a join.
const (
	StepBootstrap Step = "tls-bootstrap" // kubelet.conf and the client certificate
	StepRegister  Step = "registration"  // the Node object
	StepCordon    Step = "cordon"        // spec.unschedulable at first join
	StepLabels    Step = "labels"        // the pool's labels
	StepReady     Step = "ready"         // the Node's Ready condition
)

// remedy says what the operator checks when a step stalls.
var remedy = map[Step]string{
	StepBootstrap: "check the kubelet log (journalctl -u kubelet) and the node's certificate signing request (kubectl get csr); the bootstrap token must be valid and the CSR approved",
	StepRegister:  "check the kubelet log (journalctl -u kubelet) for why it cannot register the Node",
	StepCordon:    "check that the API server is reachable from this host",
	StepLabels:    "check that the API server is reachable from this host",
	StepReady:     "check the container runtime and the network plugin on this host, and the kubelet log (journalctl -u kubelet)",
}

// TimeoutError is a join that did not complete within --timeout; Step and
// Reason say where it stalled and why. The CLI maps it to exit code 6.
type TimeoutError struct {
	Node    string
	Step    Step
	Reason  string
	Timeout time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("node %s did not join within %s: stalled at %s: %s; %s (or raise --timeout)",
		e.Node, e.Timeout, e.Step, e.Reason, remedy[e.Step])
}

// StaleCredentialsError is a kubelet.conf the API server rejects (an earlier
// join, another cluster, an expired certificate). RemoveStaleCredentials and a
// restart of the kubelet make it bootstrap again.
type StaleCredentialsError struct {
	Node   string
	Reason string
}

func (e *StaleCredentialsError) Error() string {
	return fmt.Sprintf("the kubelet credentials of node %s are stale (%s): remove %s and %s/kubelet-client-*.pem, then restart the kubelet so it bootstraps again (install does this when run again)",
		e.Node, e.Reason, paths.KubeletKubeconfig, PKIDir)
}
