// Package kubeclient is the API client add2tkectl talks to the cluster
// with: one REST client per API group it calls (core for Nodes and the
// cluster-info ConfigMap, certificates for the kubelet's CSRs), over a
// scheme that knows only those two groups.
//
// client-go's typed clients register every API group of k8s.io/api through
// k8s.io/client-go/kubernetes/scheme: 56 groups and their apply
// configurations, for five calls; without them the stripped binary went
// from 48.6 to 31.1 MB (make build). The interfaces below
// keep the typed clients' method signatures, so client-go's fake clientset
// still satisfies them in tests (kubeclienttest).
package kubeclient

import (
	"context"
	"net/http"
	"sync"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
)

// Interface is every call add2tkectl makes to the API server.
type Interface interface {
	Nodes() NodeInterface
	ConfigMaps(namespace string) ConfigMapInterface
	CertificateSigningRequests() CSRInterface
}

// NodeInterface is the subset of client-go's typed Node client we call.
type NodeInterface interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Node, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*corev1.Node, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
	// Watch streams changes of the Nodes opts selects (the join's wake-up).
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// ConfigMapInterface reads a ConfigMap (cluster-info, at discovery).
type ConfigMapInterface interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.ConfigMap, error)
}

// CSRInterface lists the kubelet's certificate signing requests.
type CSRInterface interface {
	List(ctx context.Context, opts metav1.ListOptions) (*certificatesv1.CertificateSigningRequestList, error)
}

// codecs are the scheme's, built when a client is first made: a command
// that makes none (version, render) does not pay for registering the two
// groups' types at start-up.
var codecs = sync.OnceValue(func() codecSet {
	scheme := runtime.NewScheme()
	// Each group's AddToScheme registers its options types (GetOptions,
	// ListOptions, ...) too; the unversioned v1 carries the Status the API
	// server answers errors with.
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, certificatesv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
	return codecSet{serializer.NewCodecFactory(scheme), runtime.NewParameterCodec(scheme)}
})

type codecSet struct {
	factory serializer.CodecFactory
	params  runtime.ParameterCodec
}

// Client is the production Interface.
type Client struct {
	core  *rest.RESTClient
	certs *rest.RESTClient
}

// NewForConfig builds both group clients over one HTTP client, so they
// share the connection to the API server.
func NewForConfig(cfg *rest.Config) (*Client, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	core, err := groupClient(cfg, hc, "/api", corev1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	certs, err := groupClient(cfg, hc, "/apis", certificatesv1.SchemeGroupVersion)
	if err != nil {
		return nil, err
	}
	return &Client{core: core, certs: certs}, nil
}

func groupClient(cfg *rest.Config, hc *http.Client, apiPath string, gv schema.GroupVersion) (*rest.RESTClient, error) {
	c := *cfg
	c.APIPath = apiPath
	c.GroupVersion = &gv
	c.NegotiatedSerializer = codecs().factory.WithoutConversion()
	// Protobuf both ways: its generated code decodes a Node without the
	// reflection caches the first JSON decode of a type builds (that
	// first GET of the Node took 12.6 ms against 3.3 ms for the next).
	c.ContentType = runtime.ContentTypeProtobuf
	c.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	return rest.RESTClientForConfigAndClient(&c, hc)
}

func (c *Client) Nodes() NodeInterface { return nodes{c.core} }

func (c *Client) ConfigMaps(namespace string) ConfigMapInterface {
	return configMaps{c.core, namespace}
}

func (c *Client) CertificateSigningRequests() CSRInterface { return csrs{c.certs} }

type nodes struct{ c *rest.RESTClient }

func (n nodes) Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Node, error) {
	out := &corev1.Node{}
	err := n.c.Get().Resource("nodes").Name(name).VersionedParams(&opts, codecs().params).Do(ctx).Into(out)
	return out, err
}

func (n nodes) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*corev1.Node, error) {
	out := &corev1.Node{}
	err := n.c.Patch(pt).Resource("nodes").Name(name).SubResource(subresources...).
		VersionedParams(&opts, codecs().params).Body(data).Do(ctx).Into(out)
	return out, err
}

func (n nodes) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	return n.c.Get().Resource("nodes").VersionedParams(&opts, codecs().params).Watch(ctx)
}

func (n nodes) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	return n.c.Delete().Resource("nodes").Name(name).Body(&opts).Do(ctx).Error()
}

type configMaps struct {
	c  *rest.RESTClient
	ns string
}

func (m configMaps) Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.ConfigMap, error) {
	out := &corev1.ConfigMap{}
	err := m.c.Get().Namespace(m.ns).Resource("configmaps").Name(name).VersionedParams(&opts, codecs().params).Do(ctx).Into(out)
	return out, err
}

type csrs struct{ c *rest.RESTClient }

func (r csrs) List(ctx context.Context, opts metav1.ListOptions) (*certificatesv1.CertificateSigningRequestList, error) {
	out := &certificatesv1.CertificateSigningRequestList{}
	err := r.c.Get().Resource("certificatesigningrequests").VersionedParams(&opts, codecs().params).Do(ctx).Into(out)
	return out, err
}
