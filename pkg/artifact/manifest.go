package artifact

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// SchemaVersion is the manifest schema this binary understands.
const SchemaVersion = 1

// Artifact kinds.
const (
	KindBinary = "binary"
	KindTarGz  = "tar.gz"
	KindImage  = "image" // an OCI image tarball
)

// Manifest is the signed list of artifacts (DESIGN section 2).
type Manifest struct {
	SchemaVersion int `json:"schemaVersion"`
	// Expires, when set, ends the manifest's life (RFC 3339, signed with the
	// rest), so that an old manifest replayed over http is refused.
	Expires   *time.Time `json:"expires,omitempty"`
	Artifacts []Artifact `json:"artifacts"`
}

// Artifact is one downloadable file.
type Artifact struct {
	Name    string   `json:"name"` // kubelet, containerd, image/pause...
	Version string   `json:"version"`
	OS      string   `json:"os"`
	Arch    string   `json:"arch"`
	Kind    string   `json:"kind"` // binary | tar.gz | image
	URLs    []string `json:"urls"` // in order of preference: internal endpoint first
	Size    int64    `json:"size"`
	SHA256  string   `json:"sha256"` // lower-case hex
}

// VerifyManifest checks the DSSE envelope's signature with the PKIX PEM
// public key, validates the manifest it carries and resolves relative
// artifact URLs against manifestURL. With an empty manifestURL (an offline
// manifest) relative URLs stay as they are: Fetch resolves them or, with an
// offline directory, does not need them. A manifest past its expiry is
// refused. Every failure is an *Error (exit 4).
func VerifyManifest(envelope []byte, manifestURL string, pubPEM string) (*Manifest, error) {
	m, err := verify(envelope, manifestURL, pubPEM)
	if err != nil {
		return nil, err
	}
	if err := m.checkFresh(time.Now()); err != nil {
		return nil, err
	}
	return m, nil
}

// VerifyCachedManifest is VerifyManifest for the envelope install keeps under
// the host root after accepting it: its signature is checked again but not
// its expiry, so that a re-run on a joined host stays idempotent offline. The
// expiry guards what comes over the network or from an offline directory.
func VerifyCachedManifest(envelope []byte, pubPEM string) (*Manifest, error) {
	return verify(envelope, "", pubPEM)
}

func verify(envelope []byte, manifestURL string, pubPEM string) (*Manifest, error) {
	pub, err := ParsePublicKey([]byte(pubPEM))
	if err != nil {
		return nil, manifestErr("artifacts.publicKey: %v; set it to the PEM public key that signs the manifest", err)
	}
	payload, err := OpenEnvelope(envelope, pub)
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(payload)
	if err != nil {
		return nil, err
	}
	if err := m.resolve(manifestURL, false); err != nil {
		return nil, err
	}
	return m, nil
}

// ParseManifest decodes and validates a manifest payload; unknown fields
// are an error, like a wrong schemaVersion, a duplicate artifact, a bad
// size or sha256.
func ParseManifest(payload []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, manifestErr("decode manifest payload: %v", err)
	}
	if dec.More() {
		return nil, manifestErr("decode manifest payload: trailing data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the manifest's fields.
func (m *Manifest) Validate() error {
	if m.SchemaVersion != SchemaVersion {
		return manifestErr("schemaVersion %d is not supported (this add2tkectl reads %d); use the add2tkectl binary the console hands out with this manifest", m.SchemaVersion, SchemaVersion)
	}
	if len(m.Artifacts) == 0 {
		return manifestErr("the manifest lists no artifacts")
	}
	if m.Expires != nil && m.Expires.IsZero() {
		return manifestErr("expires is the zero time; give an RFC 3339 time or leave it out")
	}
	seen := map[string]bool{}
	sizeOf := map[string]int64{}
	for i, a := range m.Artifacts {
		where := fmt.Sprintf("artifacts[%d] (%s)", i, a.Name)
		switch {
		case a.Name == "":
			return manifestErr("artifacts[%d]: name is empty", i)
		case a.Version == "" || a.OS == "" || a.Arch == "":
			return manifestErr("%s: version, os and arch are required", where)
		case a.Kind != KindBinary && a.Kind != KindTarGz && a.Kind != KindImage:
			return manifestErr("%s: kind %q: use binary, tar.gz or image", where, a.Kind)
		case len(a.URLs) == 0:
			return manifestErr("%s: no urls", where)
		case a.Size <= 0:
			return manifestErr("%s: size %d: must be the file's size in bytes", where, a.Size)
		case !isSHA256(a.SHA256):
			return manifestErr("%s: sha256 %q: must be 64 lower-case hex digits", where, a.SHA256)
		}
		if strings.ContainsAny(a.Name, "\\\x00") || strings.HasPrefix(a.Name, "/") || strings.Contains(a.Name, "..") {
			return manifestErr("%s: name may not contain '..', '\\' or start with '/'", where)
		}
		for _, u := range a.URLs {
			if _, err := url.Parse(u); err != nil || u == "" {
				return manifestErr("%s: url is not valid", where)
			}
		}
		if n, ok := sizeOf[a.SHA256]; ok && n != a.Size {
			return manifestErr("%s: sha256 %s is listed with sizes %d and %d; one content has one size", where, a.SHA256, n, a.Size)
		}
		sizeOf[a.SHA256] = a.Size
		key := a.Name + " " + a.OS + "/" + a.Arch
		if seen[key] {
			return manifestErr("%s: listed twice for %s/%s", where, a.OS, a.Arch)
		}
		seen[key] = true
	}
	return nil
}

// checkFresh refuses a manifest whose signed expiry is before now.
func (m *Manifest) checkFresh(now time.Time) error {
	if m.Expires == nil || now.Before(*m.Expires) {
		return nil
	}
	return manifestErr("the manifest expired at %s; regenerate and republish it (add2tkectl artifacts sign --expires ...) or regenerate the script in the console", m.Expires.UTC().Format(time.RFC3339))
}

// Pin is the version the configuration asks of one artifact, and the
// setting that asks it (for the error message).
type Pin struct {
	Version string
	Setting string
}

// Pins are the configuration's versions by artifact name: the kubelet's is
// the cluster's Kubernetes version, the runtime's the pool's runtime version.
type Pins map[string]Pin

// SameVersion compares versions with or without a leading "v"
// (kubelet says v1.35.4, a pool says 1.35.4).
func SameVersion(a, b string) bool {
	return strings.TrimPrefix(a, "v") == strings.TrimPrefix(b, "v")
}

// CheckPins refuses a manifest that lists a pinned artifact, for any OS or
// architecture, at another version than its pin: a validly signed manifest
// for other versions (an old one replayed, say) must not install them. An
// artifact the manifest lacks is not this check's business. The *Error
// names both versions.
func (m *Manifest) CheckPins(pins Pins) error {
	var bad []string
	for _, a := range m.Artifacts {
		p, ok := pins[a.Name]
		if !ok || p.Version == "" || SameVersion(a.Version, p.Version) {
			continue
		}
		bad = append(bad, fmt.Sprintf("%s is %s in the manifest (%s/%s) but %s is %s", a.Name, a.Version, a.OS, a.Arch, p.Setting, p.Version))
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return manifestErr("the manifest is for other versions than the configuration: %s; regenerate the script in the console for this pool or publish a manifest for these versions", strings.Join(bad, "; "))
}

func isSHA256(s string) bool {
	if len(s) != 64 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// resolve makes every artifact URL absolute against base and checks that
// it is http or https. Without a base, relative URLs are an error when
// strict and left alone otherwise.
func (m *Manifest) resolve(base string, strict bool) error {
	var b *url.URL
	if base != "" {
		var err error
		if b, err = url.Parse(base); err != nil {
			return manifestErr("manifest URL is not valid")
		}
	}
	for i := range m.Artifacts {
		a := &m.Artifacts[i]
		for j, raw := range a.URLs {
			u, err := url.Parse(raw)
			if err != nil {
				return manifestErr("%s: url is not valid", a.Name)
			}
			if !u.IsAbs() {
				if b == nil || !b.IsAbs() {
					if !strict {
						continue
					}
					return manifestErr("%s: relative url %q needs a manifest URL to resolve against", a.Name, raw)
				}
				u = b.ResolveReference(u)
			}
			if u.Scheme != "http" && u.Scheme != "https" {
				return manifestErr("%s: url scheme %q: use https (or http)", a.Name, u.Scheme)
			}
			a.URLs[j] = u.String()
		}
	}
	return nil
}

// Select returns the artifacts for one OS and architecture, or an *Error
// if there are none.
func (m *Manifest) Select(osName, arch string) ([]Artifact, error) {
	var out []Artifact
	for _, a := range m.Artifacts {
		if a.OS == osName && a.Arch == arch {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, manifestErr("the manifest has no artifact for %s/%s; use a node pool whose artifacts include this architecture", osName, arch)
	}
	return out, nil
}

// OfflineName is the file name of an artifact in an offline directory
// (--artifacts-dir, `artifacts pull --to`): <name>-<version>-<os>-<arch>,
// with '/' in the name replaced by '_' (image/pause -> image_pause).
func OfflineName(a Artifact) string {
	clean := strings.NewReplacer("/", "_", "\\", "_").Replace
	return clean(a.Name) + "-" + clean(a.Version) + "-" + clean(a.OS) + "-" + clean(a.Arch)
}

// OfflineManifest is the name of the envelope in an offline directory.
const OfflineManifest = "manifest.json"
