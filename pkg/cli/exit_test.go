package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
	"github.com/add2tkectl/add2tkectl/pkg/config"
	"github.com/add2tkectl/add2tkectl/pkg/firstboot"
	"github.com/add2tkectl/add2tkectl/pkg/install"
	"github.com/add2tkectl/add2tkectl/pkg/join"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
	"github.com/add2tkectl/add2tkectl/pkg/preflight"
	"github.com/add2tkectl/add2tkectl/pkg/render"
	"github.com/add2tkectl/add2tkectl/pkg/status"
	"github.com/add2tkectl/add2tkectl/pkg/userscript"
)

func TestJoinTimeoutExits6AndUserScriptFailureExits1(t *testing.T) {
	wrapped := fmt.Errorf("phase join: %w", &join.TimeoutError{Node: "n1", Step: join.StepReady, Reason: "NotReady: x"})
	if got := ExitCode(wrapped); got != ExitJoin {
		t.Errorf("ExitCode(join timeout) = %d, want %d", got, ExitJoin)
	}
	if got := ExitCode(fmt.Errorf("phase userscript: %w", &userscript.FailedError{Attempts: 3, ExitCode: 1})); got != ExitFailure {
		t.Errorf("ExitCode(user script failure) = %d, want %d", got, ExitFailure)
	}
}

// wrapped wraps err without calling its Error (zero values of some types
// need their fields to print).
type wrapped struct{ err error }

func (w wrapped) Error() string { return "wrapped" }
func (w wrapped) Unwrap() error { return w.err }

// Every typed error of the table exits with its code when wrapped, and the
// order decides between two that are wrapped together.
func TestExitTableMapsEachTypedError(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{&firstboot.GaveUpError{}, firstboot.GaveUpStatus},
		{&firstboot.RunError{ExitCode: ExitJoin}, ExitJoin},
		{&usageError{}, ExitUsage},
		{&artifact.ExpiredError{}, ExitExpired},
		{&artifact.Error{}, ExitArtifact},
		{&config.LoadError{}, ExitUsage},
		{&config.ValidationError{}, ExitUsage},
		{&phase.UnknownPhaseError{}, ExitUsage},
		{&install.KubeletMoveError{}, ExitUsage},
		{&join.TimeoutError{}, ExitJoin},
		{&preflight.FailedError{}, ExitPreflight},
		{&preflight.UnknownCheckError{}, ExitUsage},
		{&render.LiveRootError{}, ExitUsage},
		{&status.NotInstalledError{}, ExitFailure},
		{&status.DegradedError{}, ExitFailure},
		{errors.New("unknown command \"instal\" for \"add2tkectl\""), ExitUsage},
		{errors.New("something else"), ExitFailure},
		{nil, ExitOK},
	} {
		err := c.err
		if _, typed := err.(interface{ Error() string }); typed && !isPlain(err) {
			err = wrapped{err}
		}
		if got := ExitCode(err); got != c.want {
			t.Errorf("ExitCode(%T) = %d, want %d", c.err, got, c.want)
		}
	}
	both := wrapped{errors.Join(&preflight.FailedError{}, &artifact.ExpiredError{})}
	if got := ExitCode(both); got != ExitExpired {
		t.Errorf("an expired link found by preflight exits %d, want %d", got, ExitExpired)
	}
}

// isPlain: cobra's own errors are plain strings and come unwrapped.
func isPlain(err error) bool {
	return errors.Unwrap(err) == nil && fmt.Sprintf("%T", err) == "*errors.errorString"
}
