package dlsvc

import "errors"

// ErrNotHostLibrary is wrapped by OpenHostLibrary's errors.
var ErrNotHostLibrary = errors.New("sandbox: not a loaded libc-family library")
