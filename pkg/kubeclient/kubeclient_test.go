package kubeclient

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

// request is what the API server saw of one call.
type request struct {
	Method, Path, Query, ContentType, Body string
}

// apiServer answers each path with a fixed JSON body and records the
// requests, as the API server's REST interface would see them.
func apiServer(t *testing.T, answers map[string]any) (*Client, func() []request) {
	t.Helper()
	var mu sync.Mutex
	var seen []request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// Bodies go as protobuf: recorded as the JSON of what they decode to.
		if r.Header.Get("Content-Type") == runtime.ContentTypeProtobuf {
			obj, _, err := codecs().factory.UniversalDeserializer().Decode(body, nil, nil)
			if err != nil {
				t.Errorf("%s %s: a protobuf body that does not decode: %v", r.Method, r.URL.Path, err)
			}
			body, _ = json.Marshal(obj)
		}
		mu.Lock()
		seen = append(seen, request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), string(body)})
		mu.Unlock()
		a, ok := answers[r.Method+" "+r.URL.Path]
		if !ok {
			a = metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
				Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound, Message: r.URL.Path + " not found"}
		}
		w.Header().Set("Content-Type", "application/json")
		if s, ok := a.(metav1.Status); ok {
			w.WriteHeader(int(s.Code))
		}
		_ = json.NewEncoder(w).Encode(a)
	}))
	t.Cleanup(srv.Close)
	c, err := NewForConfig(&rest.Config{Host: srv.URL, UserAgent: "add2tkectl"})
	if err != nil {
		t.Fatal(err)
	}
	return c, func() []request {
		mu.Lock()
		defer mu.Unlock()
		return append([]request(nil), seen...)
	}
}

func TestCallsReachTheirGroupsPaths(t *testing.T) {
	node := corev1.Node{TypeMeta: metav1.TypeMeta{Kind: "Node", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "uid-1", Labels: map[string]string{"a": "b"}}}
	c, seen := apiServer(t, map[string]any{
		"GET /api/v1/nodes/n1":   node,
		"PATCH /api/v1/nodes/n1": node,
		"DELETE /api/v1/nodes/n1": metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusSuccess, Code: http.StatusOK},
		"GET /api/v1/namespaces/kube-public/configmaps/cluster-info": corev1.ConfigMap{
			TypeMeta: metav1.TypeMeta{Kind: "ConfigMap", APIVersion: "v1"},
			Data:     map[string]string{"kubeconfig": "k"}},
		"GET /apis/certificates.k8s.io/v1/certificatesigningrequests": certificatesv1.CertificateSigningRequestList{
			TypeMeta: metav1.TypeMeta{Kind: "CertificateSigningRequestList", APIVersion: "certificates.k8s.io/v1"},
			Items:    []certificatesv1.CertificateSigningRequest{{ObjectMeta: metav1.ObjectMeta{Name: "csr-1"}}}},
	})
	ctx := context.Background()

	n, err := c.Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil || n.UID != "uid-1" || n.Labels["a"] != "b" {
		t.Fatalf("Get node = %+v, %v", n, err)
	}
	if _, err := c.Nodes().Patch(ctx, "n1", types.MergePatchType, []byte(`{"spec":{"unschedulable":true}}`),
		metav1.PatchOptions{FieldManager: "add2tkectl"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Nodes().Patch(ctx, "n1", types.StrategicMergePatchType, []byte(`{}`), metav1.PatchOptions{}, "status"); !apierrors.IsNotFound(err) {
		t.Fatalf("patch of the status subresource (not answered) = %v, want NotFound", err)
	}
	uid := types.UID("uid-1")
	if err := c.Nodes().Delete(ctx, "n1", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil {
		t.Fatal(err)
	}
	cm, err := c.ConfigMaps("kube-public").Get(ctx, "cluster-info", metav1.GetOptions{})
	if err != nil || cm.Data["kubeconfig"] != "k" {
		t.Fatalf("Get cluster-info = %+v, %v", cm, err)
	}
	list, err := c.CertificateSigningRequests().List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "csr-1" {
		t.Fatalf("List CSRs = %+v, %v", list, err)
	}

	want := []request{
		{Method: "GET", Path: "/api/v1/nodes/n1"},
		{Method: "PATCH", Path: "/api/v1/nodes/n1", Query: "fieldManager=add2tkectl",
			ContentType: "application/merge-patch+json", Body: `{"spec":{"unschedulable":true}}`},
		{Method: "PATCH", Path: "/api/v1/nodes/n1/status", ContentType: "application/strategic-merge-patch+json", Body: `{}`},
		{Method: "DELETE", Path: "/api/v1/nodes/n1", ContentType: runtime.ContentTypeProtobuf,
			Body: `{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"uid-1"}}`},
		{Method: "GET", Path: "/api/v1/namespaces/kube-public/configmaps/cluster-info"},
		{Method: "GET", Path: "/apis/certificates.k8s.io/v1/certificatesigningrequests"},
	}
	if diff := cmp.Diff(want, seen()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// The API server's Status answers must come back as client-go's API errors:
// join and uninstall tell a missing Node from a refused call by them.
func TestStatusAnswersAreAPIErrors(t *testing.T) {
	c, _ := apiServer(t, map[string]any{
		"GET /api/v1/nodes/denied": metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusFailure, Reason: metav1.StatusReasonForbidden, Code: http.StatusForbidden,
			Message: `nodes "denied" is forbidden`},
	})
	ctx := context.Background()
	if _, err := c.Nodes().Get(ctx, "gone", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Get of a missing node = %v, want NotFound", err)
	}
	_, err := c.Nodes().Get(ctx, "denied", metav1.GetOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != `nodes "denied" is forbidden` {
		t.Errorf("Get of a forbidden node = %v, want Forbidden with the server's message", err)
	}
	if err := c.Nodes().Delete(ctx, "gone", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Delete of a missing node = %v, want NotFound", err)
	}
}
