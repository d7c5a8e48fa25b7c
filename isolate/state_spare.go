//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/runplug/runplug/internal/wire"
)

// A plugin with persistent state maps its state file from descriptor 4
// of its child (wire.StateFD). A child started for the load inherits the
// file there; a spare, started before anyone knew the file, inherits
// instead one end of a socket pair, and the host sends the file through
// it (SCM_RIGHTS) just before the request. The child takes it at the
// start of its load, before any plugin code, and puts it on descriptor
// 4; a load without state closes the socket. Only the load filter
// allows recvmsg.

// stateSocket makes the socket pair of a spare: it keeps one end and
// returns the other, for the child's descriptor 4.
func (p *proc) stateSocket() (*os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("isolate: spare's state socket: %w", err)
	}
	p.stateSock = os.NewFile(uintptr(fds[0]), "runplug-state-socket")
	return os.NewFile(uintptr(fds[1]), "runplug-state-socket"), nil
}

// handState sends st's file to a spare, before its request (nil: a load
// without state, nothing to send). The host's end is closed either way.
func (p *proc) handState(st *wire.RemoteState) error {
	defer p.closeStateSocket()
	if st == nil {
		return nil
	}
	if p.stateSock == nil {
		return errors.New("isolate: the spare has no state socket")
	}
	err := unix.Sendmsg(int(p.stateSock.Fd()), []byte{0}, unix.UnixRights(int(st.File.Fd())), nil, 0)
	if err != nil {
		return fmt.Errorf("isolate: hand the state file to the spare: %w", err)
	}
	return nil
}

func (p *proc) closeStateSocket() {
	if p.stateSock != nil {
		p.stateSock.Close()
		p.stateSock = nil
	}
}

// takeStateFile is the spare child's side: it receives the state file
// on descriptor 4 (the socket) and puts it there in the socket's place,
// or, for a load without state, closes the socket.
func takeStateFile(want bool) error {
	const fd = wire.StateFD
	if !want {
		return unix.Close(fd)
	}
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(fd, make([]byte, 1), oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return fmt.Errorf("receive the state file: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return fmt.Errorf("receive the state file: %d control messages, %v", len(msgs), err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return fmt.Errorf("receive the state file: %d descriptors, %v", len(fds), err)
	}
	if err := unix.Dup3(fds[0], fd, 0); err != nil {
		return fmt.Errorf("receive the state file: %w", err)
	}
	return unix.Close(fds[0])
}
