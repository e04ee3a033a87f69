package config

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"

	"github.com/add2tkectl/add2tkectl/pkg/redact"
)

// Taint effects a Node accepts.
const (
	EffectNoSchedule       = "NoSchedule"
	EffectPreferNoSchedule = "PreferNoSchedule"
	EffectNoExecute        = "NoExecute"
)

var (
	clusterIDRE  = regexp.MustCompile(`^cls-[a-z0-9]{8}$`)
	nodePoolIDRE = regexp.MustCompile(`^np-[a-z0-9]{8}$`)
	regionRE     = regexp.MustCompile(`^[a-z]+(-[a-z0-9]+)+$`)
	tokenRE      = regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`)
	caHashRE     = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	runtimeVerRE = regexp.MustCompile(`^v?[0-9]+\.[0-9]+(\.[0-9]+)?([-+~][0-9A-Za-z.+~-]+)?$`)
	flagNameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	configKeyRE  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9]*$`)
)

// Private ranges an API server endpoint may be in: the private link only.
var privatePrefixes = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("fd00::/8"),
}

// IsPrivateAddr says whether a is in RFC 1918, 100.64.0.0/10 (carrier-grade
// NAT, used by VPC endpoints) or fd00::/8.
func IsPrivateAddr(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range privatePrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type fieldErrors []FieldError

func (l *fieldErrors) add(path, format string, a ...any) {
	*l = append(*l, FieldError{Path: path, Message: fmt.Sprintf(format, a...)})
}

// Validate checks every rule and reports every broken one at once as a
// *ValidationError. Call it after Default (Load does).
func (c *NodePoolJoin) Validate() error {
	var errs fieldErrors
	if c.APIVersion != APIVersion {
		errs.add("apiVersion", "must be %s, not %q", APIVersion, c.APIVersion)
	}
	if c.Kind != Kind {
		errs.add("kind", "must be %s, not %q", Kind, c.Kind)
	}
	c.validateCluster(&errs)
	c.validateNodePool(&errs)
	c.validateArtifacts(&errs)
	if len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	return nil
}

func (c *NodePoolJoin) validateCluster(errs *fieldErrors) {
	cl := c.Cluster
	matchID(errs, "cluster.id", cl.ID, clusterIDRE, "cls- and 8 lower-case letters or digits, e.g. cls-m57oxxxp")
	if cl.Region != "" && !regionRE.MatchString(cl.Region) {
		errs.add("cluster.region", "must be a region name such as ap-guangzhou, not %q", cl.Region)
	}
	if cl.KubernetesVersion == "" {
		errs.add("cluster.kubernetesVersion", "is required: the cluster's version, e.g. \"1.35.4\" (quoted in YAML)")
	} else if v, err := ParseKubernetesVersion(cl.KubernetesVersion); err != nil {
		errs.add("cluster.kubernetesVersion", "%v, not %q (quote it in YAML: \"1.30.2\")", err, cl.KubernetesVersion)
	} else if v.Major != 1 || v.Minor < MinKubernetesMinor || v.Minor > MaxKubernetesMinor {
		errs.add("cluster.kubernetesVersion", "%s is not supported: Kubernetes 1.%d to 1.%d are", cl.KubernetesVersion, MinKubernetesMinor, MaxKubernetesMinor)
	}
	validateEndpoint(errs, "cluster.apiServer.endpoint", cl.APIServer.Endpoint)
	validateTrust(errs, cl.APIServer)
	switch {
	case cl.BootstrapToken == "":
		errs.add("cluster.bootstrapToken", "is required: the node pool's bootstrap token from the console, [a-z0-9]{6}.[a-z0-9]{16}")
	case !tokenRE.MatchString(cl.BootstrapToken):
		// Never echo the token: it is a secret even when malformed.
		errs.add("cluster.bootstrapToken", "must be 6 and 16 lower-case letters or digits joined by a dot, [a-z0-9]{6}.[a-z0-9]{16} (value not shown: it is a secret)")
	}
	switch cl.Network.Plugin {
	case NetworkCiliumVXLAN, NetworkCiliumBGP:
	default:
		errs.add("cluster.network.plugin", "must be %s or %s, not %q", NetworkCiliumVXLAN, NetworkCiliumBGP, cl.Network.Plugin)
	}
	if cl.Network.PodCIDR == "" {
		errs.add("cluster.network.podCIDR", "is required: the cluster's pod CIDR, e.g. 172.20.0.0/16")
	} else if p, err := netip.ParsePrefix(cl.Network.PodCIDR); err != nil {
		errs.add("cluster.network.podCIDR", "must be a CIDR such as 172.20.0.0/16, not %q", cl.Network.PodCIDR)
	} else if p.Masked() != p {
		errs.add("cluster.network.podCIDR", "%s has host bits set; did you mean %s?", cl.Network.PodCIDR, p.Masked())
	}
}

func matchID(errs *fieldErrors, path, id string, re *regexp.Regexp, want string) {
	if id == "" {
		errs.add(path, "is required: %s", want)
	} else if !re.MatchString(id) {
		errs.add(path, "must be %s, not %q", want, id)
	}
}

// validateEndpoint requires an IP literal: a host name cannot be proven to be
// private before it resolves, and DNS on an IDC host may resolve it
// differently from the VPC. The console's private-link endpoint is an IP.
func validateEndpoint(errs *fieldErrors, path, raw string) {
	const want = "the API server's private-link address, https://<private IP>:<port>, e.g. https://10.0.0.5:443"
	if raw == "" {
		errs.add(path, "is required: %s", want)
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		errs.add(path, "must be %s, not %q", want, raw)
		return
	}
	if u.Scheme != "https" {
		errs.add(path, "must use https, not %q: %s", u.Scheme, want)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		errs.add(path, "must be only scheme, address and port: %s", want)
	}
	host, port := u.Hostname(), u.Port()
	if a, err := netip.ParseAddr(host); err != nil {
		errs.add(path, "host %q must be an IP address (host names can't be checked to be on the private link): %s", host, want)
	} else if !IsPrivateAddr(a) {
		errs.add(path, "%s is not a private address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10 or fd00::/8): joins go over the private link only", host)
	}
	if port == "" {
		errs.add(path, "needs a port: %s", want)
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		errs.add(path, "port %q must be 1 to 65535", port)
	}
}

func validateTrust(errs *fieldErrors, a APIServer) {
	if a.CAData == "" && len(a.CACertHashes) == 0 {
		errs.add("cluster.apiServer", "needs caData (base64 of the CA's PEM bundle) or caCertHashes ([\"sha256:<64 hex>\"]) to trust the API server")
	}
	if a.CAData != "" {
		if err := checkCAData(a.CAData); err != nil {
			errs.add("cluster.apiServer.caData", "%v", err)
		}
	}
	for i, h := range a.CACertHashes {
		if !caHashRE.MatchString(h) {
			errs.add(fmt.Sprintf("cluster.apiServer.caCertHashes[%d]", i), "must be sha256:<64 lower-case hex digits> (kubeadm's --discovery-token-ca-cert-hash), not %q", h)
		}
	}
}

func checkCAData(s string) error {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		if strings.Contains(s, "-----BEGIN") {
			return fmt.Errorf("must be base64 of the PEM bundle, not the PEM itself: base64 -w0 ca.crt")
		}
		return fmt.Errorf("must be base64 of a PEM bundle of CA certificates: %v", err)
	}
	n := 0
	for rest := raw; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			if n > 0 && strings.TrimSpace(string(rest)) != "" {
				return fmt.Errorf("holds something other than PEM certificates after certificate %d", n)
			}
			break
		}
		n++
		if b.Type != "CERTIFICATE" {
			return fmt.Errorf("block %d is a %q; only CERTIFICATE blocks belong in a CA bundle", n, b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("certificate %d does not parse: %v", n, err)
		}
	}
	if n == 0 {
		return fmt.Errorf("decodes to no PEM certificate: it must be base64 of the CA's PEM bundle (base64 -w0 ca.crt)")
	}
	return nil
}

func (c *NodePoolJoin) validateNodePool(errs *fieldErrors) {
	np := c.NodePool
	matchID(errs, "nodePool.id", np.ID, nodePoolIDRE, "np- and 8 lower-case letters or digits, e.g. np-3kd9a1bc")
	switch np.Runtime.Kind {
	case RuntimeContainerd, RuntimeDocker:
	default:
		errs.add("nodePool.runtime.kind", "must be %s or %s, not %q", RuntimeContainerd, RuntimeDocker, np.Runtime.Kind)
	}
	if np.Runtime.Version == "" {
		errs.add("nodePool.runtime.version", "is required: the %s version to install, e.g. \"1.7.22\" (quoted in YAML)", np.Runtime.Kind)
	} else if !runtimeVerRE.MatchString(np.Runtime.Version) {
		errs.add("nodePool.runtime.version", "must be a version such as 1.7.22 or 24.0.9, not %q", np.Runtime.Version)
	}
	if d := np.Runtime.DataDir; !path.IsAbs(d) || path.Clean(d) != d || d == "/" {
		errs.add("nodePool.runtime.dataDir", "must be a clean absolute directory other than /, e.g. /data/containerd, not %q", d)
	}
	c.validateLabels(errs)
	validateTaints(errs, np.Taints)
	for _, k := range sortedKeys(np.Kubelet.ExtraArgs) {
		if !flagNameRE.MatchString(k) {
			errs.add(fmt.Sprintf("nodePool.kubelet.extraArgs[%q]", k), "must be a kubelet flag name without dashes, e.g. max-pods")
		}
	}
	for _, k := range sortedKeys(np.Kubelet.ExtraConfig) {
		if !configKeyRE.MatchString(k) {
			errs.add(fmt.Sprintf("nodePool.kubelet.extraConfig[%q]", k), "must be a KubeletConfiguration field name, e.g. maxPods")
		}
	}
}

func (c *NodePoolJoin) validateLabels(errs *fieldErrors) {
	labels := c.NodePool.Labels
	for _, k := range sortedKeys(labels) {
		p := fmt.Sprintf("nodePool.labels[%q]", k)
		if msgs := content.IsLabelKey(k); len(msgs) > 0 {
			errs.add(p, "is not a valid label key: %s", strings.Join(msgs, "; "))
		} else if why := kubeletMayNotSet(k); why != "" {
			errs.add(p, "%s", why)
		}
		if msgs := content.IsLabelValue(labels[k]); len(msgs) > 0 {
			errs.add(p, "value %q is not a valid label value: %s", labels[k], strings.Join(msgs, "; "))
		}
	}
	if labels[LabelLocation] == "" {
		errs.add(fmt.Sprintf("nodePool.labels[%q]", LabelLocation), "is required: where the host is, e.g. idc-sh-01")
	}
	if c.Cluster.Network.Plugin != NetworkCiliumBGP {
		return
	}
	asPath := fmt.Sprintf("nodePool.labels[%q]", LabelAS)
	if as, ok := labels[LabelAS]; !ok || as == "" {
		errs.add(asPath, "is required with %s: the AS number of the host's switch, 1 to 4294967295", NetworkCiliumBGP)
	} else if n, err := strconv.ParseUint(as, 10, 32); err != nil || n == 0 || as[0] == '0' {
		errs.add(asPath, "must be an AS number, 1 to 4294967295, not %q", as)
	}
	ipPath := fmt.Sprintf("nodePool.labels[%q]", LabelSwitchIP)
	if ip, ok := labels[LabelSwitchIP]; !ok || ip == "" {
		errs.add(ipPath, "is required with %s: the IP address of the host's BGP peer switch", NetworkCiliumBGP)
	} else if _, err := netip.ParseAddr(ip); err != nil {
		errs.add(ipPath, "must be an IP address, not %q", ip)
	}
}

// The labels a kubelet may set on its own Node (k8s.io/kubelet's
// IsKubeletLabel); NodeRestriction refuses other kubernetes.io and k8s.io keys.
var kubeletLabels = map[string]bool{
	"kubernetes.io/hostname":                   true,
	"kubernetes.io/arch":                       true,
	"kubernetes.io/os":                         true,
	"beta.kubernetes.io/arch":                  true,
	"beta.kubernetes.io/os":                    true,
	"beta.kubernetes.io/instance-type":         true,
	"node.kubernetes.io/instance-type":         true,
	"failure-domain.beta.kubernetes.io/region": true,
	"failure-domain.beta.kubernetes.io/zone":   true,
	"topology.kubernetes.io/region":            true,
	"topology.kubernetes.io/zone":              true,
}

var kubeletLabelNamespaces = []string{"kubelet.kubernetes.io", "node.kubernetes.io"}

// kubeletMayNotSet explains why a node's own credentials cannot set label
// key, or returns "" when they can.
func kubeletMayNotSet(key string) string {
	ns, _, found := strings.Cut(key, "/")
	if !found {
		return ""
	}
	const why = "a kubelet may not set this label on its own Node (NodeRestriction): "
	if ns == "node-restriction.kubernetes.io" || strings.HasSuffix(ns, ".node-restriction.kubernetes.io") {
		return why + "node-restriction.kubernetes.io/ labels are reserved for the control plane; set it with an admin credential, or use your own prefix such as example.com/"
	}
	if !inNamespace(ns, "kubernetes.io") && !inNamespace(ns, "k8s.io") {
		return ""
	}
	if kubeletLabels[key] {
		return ""
	}
	for _, allowed := range kubeletLabelNamespaces {
		if inNamespace(ns, allowed) {
			return ""
		}
	}
	return why + "the kubernetes.io and k8s.io namespaces are refused except kubelet.kubernetes.io/, node.kubernetes.io/ and well-known labels such as topology.kubernetes.io/zone; use your own prefix such as example.com/"
}

func inNamespace(ns, domain string) bool {
	return ns == domain || strings.HasSuffix(ns, "."+domain)
}

func validateTaints(errs *fieldErrors, taints []Taint) {
	seen := map[string]int{}
	for i, t := range taints {
		p := fmt.Sprintf("nodePool.taints[%d]", i)
		if t.Key == "" {
			errs.add(p+".key", "is required, e.g. dedicated")
		} else if msgs := content.IsLabelKey(t.Key); len(msgs) > 0 {
			errs.add(p+".key", "%q is not a valid taint key: %s", t.Key, strings.Join(msgs, "; "))
		}
		if msgs := content.IsLabelValue(t.Value); len(msgs) > 0 {
			errs.add(p+".value", "%q is not a valid taint value: %s", t.Value, strings.Join(msgs, "; "))
		}
		switch t.Effect {
		case EffectNoSchedule, EffectPreferNoSchedule, EffectNoExecute:
			id := t.Key + ":" + t.Effect
			if j, dup := seen[id]; dup {
				errs.add(p, "duplicates nodePool.taints[%d]: key %q with effect %s may appear once", j, t.Key, t.Effect)
			} else {
				seen[id] = i
			}
		default:
			errs.add(p+".effect", "must be %s, %s or %s, not %q", EffectNoSchedule, EffectPreferNoSchedule, EffectNoExecute, t.Effect)
		}
	}
}

func (c *NodePoolJoin) validateArtifacts(errs *fieldErrors) {
	a := c.Artifacts
	if a.ManifestURL == "" {
		errs.add("artifacts.manifestURL", "is required: the presigned link of the node pool's signed manifest from the console")
	} else if u, err := url.Parse(a.ManifestURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs.add("artifacts.manifestURL", "must be an http(s) URL, not %q", redact.URL(a.ManifestURL))
	}
	if a.PublicKey == "" {
		errs.add("artifacts.publicKey", "is required: the ed25519 public key that signs the manifest, as PEM (-----BEGIN PUBLIC KEY-----)")
	} else if _, err := ParsePublicKey(a.PublicKey); err != nil {
		errs.add("artifacts.publicKey", "%v", err)
	}
}

// ParsePublicKey reads artifacts.publicKey: one PEM "PUBLIC KEY" block (PKIX,
// as openssl writes it) holding an ed25519 key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, rest := pem.Decode([]byte(s))
	if b == nil {
		return nil, fmt.Errorf("must be an ed25519 public key as PEM (-----BEGIN PUBLIC KEY-----, as 'openssl pkey -pubout' writes it)")
	}
	if b.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("is a PEM %q block; it must be a PUBLIC KEY (PKIX) block holding an ed25519 key", b.Type)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("must hold exactly one PEM block, the ed25519 PUBLIC KEY")
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("does not parse as a PKIX public key: %v", err)
	}
	ed, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("is a %T; the manifest is signed with ed25519, so the key must be ed25519", k)
	}
	return ed, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
