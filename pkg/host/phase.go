package host

import (
	"context"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Work is the work of the "host" install phase: kernel modules, sysctls and
// swap.
func (s *Settings) Work() phase.Work {
	return phase.Work{
		Satisfied: s.Satisfied,
		Run: func(ctx context.Context, rec phase.Recorder) error {
			changed, err := s.Apply(ctx, rec)
			for _, c := range changed {
				s.Log.WithField("phase", "host").Info(c)
			}
			return err
		},
	}
}
