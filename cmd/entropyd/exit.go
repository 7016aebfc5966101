package main

import (
	"errors"

	"github.com/hsmentropy/hsmentropy/hsmrand"
)

// exitLogin is the exit status when the token refused the PIN, or reports
// the user PIN locked or on its final try, or the PIN source cannot hold a
// PIN (hsmrand.ErrLogin). Starting again presents the same PIN again, and
// retries lock tokens, so a service manager must not restart entropyd on
// it: the shipped systemd unit says RestartPreventExitStatus=3.
const exitLogin = 3

// exitStatus is the status main exits with for err (not nil): 2 for a bad
// command line, exitLogin for a refused PIN, the status a statusError
// carries (assess --restart's failed checks), 1 for anything else.
func exitStatus(err error) int {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return se.status
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, hsmrand.ErrLogin):
		return exitLogin
	}
	return 1
}
