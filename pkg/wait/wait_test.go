package wait

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAnswerRetriesUntilTheServiceAnswers(t *testing.T) {
	calls, said := 0, 0
	last, err := Answer(context.Background(), time.Millisecond, func(context.Context) error {
		if calls++; calls < 4 {
			return errors.New("connection refused")
		}
		return nil
	}, func(error) { said++ })
	if last != nil || err != nil || calls != 4 || said != 1 {
		t.Errorf("last %v, err %v after %d calls, said %d times; want success on the 4th, said once", last, err, calls, said)
	}
}

func TestAnswerReturnsTheLastErrorWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	refused := errors.New("connection refused")
	last, err := Answer(ctx, time.Millisecond, func(context.Context) error { return refused }, nil)
	if !errors.Is(last, refused) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("last %v, err %v; want the refusal and the deadline", last, err)
	}
}

func TestSaysWantsTheStatusAndTheBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte("ok\n"))
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("[-]syncloop failed"))
	}))
	defer srv.Close()
	if err := Says(context.Background(), srv.Client(), "kubelet healthz", srv.URL+"/healthz", "ok"); err != nil {
		t.Errorf("healthy: %v", err)
	}
	err := Says(context.Background(), srv.Client(), "kubelet healthz", srv.URL+"/other", "ok")
	if err == nil || !strings.Contains(err.Error(), `kubelet healthz: 503 Service Unavailable "[-]syncloop failed"`) {
		t.Errorf("unhealthy: %v", err)
	}
}
