package kubelet

import (
	"encoding/base64"
	"encoding/json"
	"os"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/binary"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// stampedVersion is the version of the kubelet binary when it is still the
// file install put at BinaryPath (the size and mtime its stamp recorded,
// the artifact's content): the version the manifest gave that artifact.
// Running `kubelet --version` costs about 100 ms, most of status's time;
// a binary changed since install is run as before.
func stampedVersion(root host.Root) (string, bool) {
	st, err := binary.LoadStamp(root, Component)
	if err != nil {
		return "", false
	}
	file, ok := st.Files[BinaryPath]
	src, ok2 := st.Sources[Artifact]
	if !ok || !ok2 || file.SHA256 != src.SHA256 || file.Path != root.Path(BinaryPath) {
		return "", false
	}
	fi, err := os.Stat(file.Path)
	if err != nil || fi.Size() != file.Size || fi.ModTime().UnixNano() != file.MTimeNs {
		return "", false
	}
	// The manifest install verified before it saved it (root's, 0600 in
	// add2tkectl's state dir); here it only names the artifact's version.
	b, err := os.ReadFile(root.Path(paths.ManifestPath))
	if err != nil {
		return "", false
	}
	var env artifact.Envelope
	if json.Unmarshal(b, &env) != nil {
		return "", false
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return "", false
	}
	m, err := artifact.ParseManifest(payload)
	if err != nil {
		return "", false
	}
	for _, a := range m.Artifacts {
		if a.Name == Artifact && a.SHA256 == src.SHA256 && a.Version != "" {
			return a.Version, true
		}
	}
	return "", false
}
