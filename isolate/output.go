//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"io"
	"os"
	"reflect"
	"sync"
	"time"
)

// The child's standard output and error. The child holds only the write
// end of a pipe for each (never one of the host's descriptors); a
// goroutine of the host copies each pipe to its writer through a fixed
// buffer. A writer that blocks blocks only that copy: the pipe fills and
// then the child's write(2) waits, inside the plugin's call, which the
// call's context still ends (the child is killed; the host watches the
// child through its pidfd and never waits for the copy). The host holds
// at most outBuf bytes of output per stream, whatever the child writes.

// outBuf is the size of each stream's copy buffer.
const outBuf = 32 << 10

// outputGrace bounds how long Close waits for the child's last output to
// reach the writers (a writer that blocks longer gets the rest later,
// from the copying goroutine, which ends when the writer returns).
const outputGrace = time.Second

// output is one child's pair of copies.
type output struct {
	done chan struct{} // closed once both pipes reached their end
}

// pipes makes the child's stdout and stderr pipes; the caller gives the
// write ends to the child and closes them after the start.
func pipes() (rOut, wOut, rErr, wErr *os.File, err error) {
	if rOut, wOut, err = os.Pipe(); err != nil {
		return nil, nil, nil, nil, err
	}
	if rErr, wErr, err = os.Pipe(); err != nil {
		rOut.Close()
		wOut.Close()
		return nil, nil, nil, nil, err
	}
	return rOut, wOut, rErr, wErr, nil
}

// copyOutput starts copying the read ends to the writers of opts (nil:
// the host's own os.Stdout and os.Stderr). When both are the same writer
// its writes are serialised.
func copyOutput(rOut, rErr *os.File, stdout, stderr io.Writer) *output {
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	var mu *sync.Mutex
	if sameWriter(stdout, stderr) {
		mu = new(sync.Mutex)
	}
	o := &output{done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(2)
	go copyStream(rOut, stdout, mu, &wg)
	go copyStream(rErr, stderr, mu, &wg)
	go func() { wg.Wait(); close(o.done) }()
	return o
}

// sameWriter reports whether a and b are the same writer (values of a
// type that cannot be compared never are).
func sameWriter(a, b io.Writer) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// copyStream copies r to w until r's end (the child and every copy of the
// write end closed). A writer that fails is dropped: the rest is read and
// discarded, so that the child never blocks on a writer that is gone.
func copyStream(r *os.File, w io.Writer, mu *sync.Mutex, wg *sync.WaitGroup) {
	defer wg.Done()
	defer r.Close()
	buf := make([]byte, outBuf)
	for {
		n, err := r.Read(buf)
		if n > 0 && w != nil {
			if mu != nil {
				mu.Lock()
			}
			_, werr := w.Write(buf[:n])
			if mu != nil {
				mu.Unlock()
			}
			if werr != nil {
				w = nil
			}
		}
		if err != nil {
			return
		}
	}
}

// wait waits for the copies to end, at most outputGrace.
func (o *output) wait() {
	if o == nil {
		return
	}
	t := time.NewTimer(outputGrace)
	defer t.Stop()
	select {
	case <-o.done:
	case <-t.C:
	}
}
