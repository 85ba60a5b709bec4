package mount

import (
	"errors"

	"golang.org/x/sys/unix"
)

func isPerm(err error) bool { return errors.Is(err, unix.EPERM) }
