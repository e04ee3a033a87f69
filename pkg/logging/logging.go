// Package logging holds the one default logger of the packages: a caller
// that passes none gets silence, never the global logrus logger (whose
// output and level a library must not decide).
package logging

import (
	"io"

	"github.com/sirupsen/logrus"
)

// Discard returns a logger that writes nothing.
func Discard() logrus.FieldLogger {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return l
}
