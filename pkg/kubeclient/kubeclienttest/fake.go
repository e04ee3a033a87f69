// Package kubeclienttest adapts client-go's fake clientset to
// kubeclient.Interface for unit tests. Only tests import it, so the fake
// and the scheme of every API group stay out of the binary.
package kubeclienttest

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/add2tkectl/add2tkectl/pkg/kubeclient"
)

// Fake is a kubeclient.Interface over a fake clientset; its reactors
// (PrependReactor, Actions) are the clientset's.
type Fake struct {
	*fake.Clientset
	kubeclient.Interface
}

// New returns a Fake holding objects.
func New(objects ...runtime.Object) *Fake {
	cs := fake.NewClientset(objects...)
	return &Fake{cs, clientset{cs}}
}

// clientset is kubeclient.Interface over client-go's clientset.
type clientset struct{ cs kubernetes.Interface }

func (c clientset) Nodes() kubeclient.NodeInterface { return c.cs.CoreV1().Nodes() }

func (c clientset) ConfigMaps(ns string) kubeclient.ConfigMapInterface {
	return c.cs.CoreV1().ConfigMaps(ns)
}

func (c clientset) CertificateSigningRequests() kubeclient.CSRInterface {
	return c.cs.CertificatesV1().CertificateSigningRequests()
}
