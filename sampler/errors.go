package sampler

import "errors"

// ErrPermission is returned (wrapped) when a source needs a privilege wiretop lacks,
// such as CAP_NET_ADMIN for socket-destroy events.
var ErrPermission = errors.New("permission denied")

// ErrMalformed is returned (wrapped, with the file and line) when a kernel file does not parse.
var ErrMalformed = errors.New("malformed input")
