package docker

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
)

// fakeDockerd serves the two calls the remover makes on a unix socket,
// with the kubelet's containers (k8s_*) among an operator's own.
func fakeDockerd(t *testing.T, root host.Root) (removed func() []string) {
	t.Helper()
	socket := root.Path(paths.DockerSocket)
	if err := os.MkdirAll(filepath.Dir(socket), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var gone []string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containers/json", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("all") != "1" || !strings.Contains(r.URL.Query().Get("filters"), "k8s_") {
			t.Errorf("list query %s: want all=1 and a k8s_ name filter", r.URL.RawQuery)
		}
		// dockerd's name filter matches substrings: "my-k8s_tool" comes back too.
		w.Write([]byte(`[{"Id":"a1","Names":["/k8s_POD_web_default_uid_0"]},{"Id":"b2","Names":["/k8s_app_web_default_uid_0"]},{"Id":"c3","Names":["/my-k8s_tool"]}]`))
	})
	mux.HandleFunc("DELETE /containers/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("force") != "1" || r.URL.Query().Get("v") != "1" {
			t.Errorf("delete query %s: want force=1&v=1", r.URL.RawQuery)
		}
		mu.Lock()
		gone = append(gone, r.PathValue("id"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := append([]string(nil), gone...)
		sort.Strings(out)
		return out
	}
}

func TestDockerRemoverRemovesOnlyTheKubeletsContainers(t *testing.T) {
	root := host.Root{Dir: shortTempDir(t)}
	removed := fakeDockerd(t, root)
	r := Runtime.Containers(root)
	ids, err := r.List(context.Background())
	if err != nil || strings.Join(ids, ",") != "a1,b2" {
		t.Fatalf("List = %v, %v; want the two k8s_ containers", ids, err)
	}
	n, err := r.RemoveAll(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("RemoveAll = %d, %v", n, err)
	}
	if got := strings.Join(removed(), ","); got != "a1,b2" {
		t.Errorf("removed %s, want a1,b2 (never the operator's my-k8s_tool)", got)
	}
}
