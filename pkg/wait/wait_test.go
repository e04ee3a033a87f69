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
	last, err := Answer(context.Background(), func(context.Context) error {
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
	last, err := Answer(ctx, func(context.Context) error { return refused }, nil)
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

func TestPausesStayShortWhileTheWaitIsYoungThenGrowToMax(t *testing.T) {
	p := Pauses{First: 50 * time.Millisecond, Fast: 250 * time.Millisecond, FastFor: 20 * time.Second, Max: 3 * time.Second}
	var got []time.Duration
	pause, waited := p.Initial(), time.Duration(0)
	for waited < 40*time.Second {
		got = append(got, pause)
		waited += pause
		pause = p.Next(pause, waited)
	}
	young, attempts := time.Duration(0), 0
	for _, d := range got {
		if young >= p.FastFor {
			break
		}
		if d > p.Fast {
			t.Fatalf("pause %v before %v of waiting, want at most %v: %v", d, young, p.Fast, got)
		}
		young += d
		attempts++
	}
	// An answer is seen at most Fast late, and the API server gets at most
	// 1/Fast requests a second (plus the first ones, shorter).
	if attempts > int(p.FastFor/p.Fast)+5 {
		t.Errorf("%d attempts in the first %v, want about %d", attempts, p.FastFor, int(p.FastFor/p.Fast))
	}
	if last := got[len(got)-1]; last != p.Max {
		t.Errorf("pause after %v of waiting = %v, want Max %v", waited, last, p.Max)
	}
	if got[0] != p.First || got[1] != 75*time.Millisecond {
		t.Errorf("first pauses %v, want 50ms then half as long again", got[:2])
	}
}

func TestPausesDefaults(t *testing.T) {
	for _, c := range []struct {
		name string
		p    Pauses
		want Pauses
	}{
		{"zero is LocalPauses", Pauses{}, LocalPauses},
		{"a Max alone has no fast start", Pauses{First: time.Millisecond, Max: 5 * time.Millisecond},
			Pauses{First: time.Millisecond, Fast: 5 * time.Millisecond, FastFor: LocalPauses.FastFor, Max: 5 * time.Millisecond}},
		{"a Fast alone keeps the default Max", Pauses{Fast: 100 * time.Millisecond},
			Pauses{First: LocalPauses.First, Fast: 100 * time.Millisecond, FastFor: LocalPauses.FastFor, Max: LocalPauses.Max}},
		{"nothing below First", Pauses{First: time.Second, Fast: time.Millisecond, Max: time.Millisecond},
			Pauses{First: time.Second, Fast: time.Second, FastFor: LocalPauses.FastFor, Max: time.Second}},
	} {
		if got := c.p.orDefault(); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

// A wake ends the pause at once; without one the pauses still bound the
// wait.
func TestPollOrWakeEndsThePauseOnAWake(t *testing.T) {
	wake := make(chan struct{}, 1)
	calls := 0
	long := Pauses{First: time.Hour, Fast: time.Hour, FastFor: time.Hour, Max: time.Hour}
	done := make(chan error, 1)
	go func() {
		done <- PollOrWake(context.Background(), long, wake, func(context.Context) (bool, error) {
			calls++
			return calls == 3, nil
		})
	}()
	wake <- struct{}{}
	wake <- struct{}{}
	select {
	case err := <-done:
		if err != nil || calls != 3 {
			t.Errorf("PollOrWake = %v after %d calls, want done after 3", err, calls)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("two wakes did not end two hour-long pauses")
	}
}
