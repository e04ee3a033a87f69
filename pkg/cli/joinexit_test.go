package cli

import (
	"fmt"
	"testing"

	"github.com/add2tkectl/add2tkectl/pkg/join"
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
