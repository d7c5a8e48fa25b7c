package wire

import (
	"sync"
	"syscall"
)

// PluginFD is the plugin file's descriptor in an isolated child: the
// host opens the path it resolved and hands the file over, so that the
// child's load opens nothing for the plugin itself (an open the child's
// filter sends to the host's seccomp listener, a round trip between
// processes). The child holds it only until its Loader has mapped the
// file, before any plugin code runs.
const PluginFD = 5

// handed is the one file handed to this process by its host, until a
// Loader takes it.
var handed struct {
	mu   sync.Mutex
	path string
	fd   int
	set  bool
}

// HandFile records fd as the open file at path: the next open of exactly
// path by a Loader in this process takes fd instead. A file handed before
// and not taken is closed.
func HandFile(path string, fd int) {
	handed.mu.Lock()
	defer handed.mu.Unlock()
	if handed.set {
		syscall.Close(handed.fd)
	}
	handed.path, handed.fd, handed.set = path, fd, true
}

// TakeFile returns the descriptor handed for path, and forgets it: the
// caller owns it. ok is false when none was handed for path.
func TakeFile(path string) (fd int, ok bool) {
	handed.mu.Lock()
	defer handed.mu.Unlock()
	if !handed.set || handed.path != path {
		return -1, false
	}
	handed.set = false
	return handed.fd, true
}
