package host

import (
	"context"

	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// Phase is the "host" install phase: kernel modules, sysctls and swap.
func (s *Settings) Phase() phase.Phase {
	return phase.Phase{
		Name:        "host",
		Description: "load kernel modules, set sysctls, turn swap off",
		Satisfied:   s.Satisfied,
		Run: func(ctx context.Context, rec phase.Recorder) error {
			changed, err := s.Apply(ctx, rec)
			for _, c := range changed {
				s.Log.WithField("phase", "host").Info(c)
			}
			return err
		},
	}
}
