//go:build linux && (amd64 || arm64) && cgo

package isolate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// syncBuffer is a bytes.Buffer safe for the two copying goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOutputReachesWriters: what the plugin prints on stdout (through
// stdio's buffer, flushed by the graceful close) and stderr reaches
// Options.Stdout and Stderr, whole and apart; with one writer for both,
// both lines reach it (the race detector checks the writes are one at a
// time).
func TestOutputReachesWriters(t *testing.T) {
	needKernel(t)
	t.Run("apart", func(t *testing.T) {
		var out, errb bytes.Buffer
		l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{Stdout: &out, Stderr: &errb})})
		p := load(t, l, "iso_output")
		if r, err := call(t, p, "out_say", 42); err != nil || r != 42 {
			t.Fatalf("out_say(42) = %d, %v", r, err)
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if out.String() != "hi 42\n" || errb.String() != "err 42\n" {
			t.Errorf("stdout %q, stderr %q; want %q and %q", out.String(), errb.String(), "hi 42\n", "err 42\n")
		}
	})
	t.Run("one writer", func(t *testing.T) {
		w := new(bytes.Buffer) // not safe for concurrent writes: the copies take turns
		l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{Stdout: w, Stderr: w})})
		p := load(t, l, "iso_output")
		for i := uint64(1); i <= 3; i++ {
			if _, err := call(t, p, "out_say", i); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := call(t, p, "out_flood", 2, 1); err != nil { // 1 MiB on stderr while stdout waits in stdio
			t.Fatal(err)
		}
		if err := l.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := w.String()
		if len(s) != 1<<20+3*len("hi 1\n")+3*len("err 1\n") || !strings.Contains(s, "hi 3\n") || !strings.Contains(s, "err 2\n") {
			t.Errorf("one writer got %d bytes, want both streams whole", len(s))
		}
	})
}

// TestCxxTerminateMessage: a C++ exception escaping the plugin ends in
// std::terminate, whose "what():" line reaches the host's Stderr.
func TestCxxTerminateMessage(t *testing.T) {
	needKernel(t)
	var errb syncBuffer
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{Stderr: &errb})})
	p, err := l.Load(context.Background(), plugintest.Build(t, "cxx_exc"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := call(t, p, "throw_escape", 7); err == nil {
		t.Fatal("throw_escape returned")
	}
	l.Close(context.Background())
	if !strings.Contains(errb.String(), "what():  escapes 7") {
		t.Errorf("stderr %q, want the terminate message with what():", errb.String())
	}
}

// blockingWriter blocks every Write until release is closed; entered is
// closed at the first.
type blockingWriter struct {
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	return len(p), nil
}

// TestBlockedWriter: a Stderr writer that blocks and a plugin flooding
// stderr: the call's context still ends the call (the child, blocked in
// write(2), is killed) and Close returns; neither waits for the writer.
func TestBlockedWriter(t *testing.T) {
	needKernel(t)
	w := &blockingWriter{entered: make(chan struct{}), release: make(chan struct{})}
	defer close(w.release)
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{Stderr: w})})
	p := load(t, l, "iso_output")
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-w.entered; cancel() }() // the writer blocks: end the call
	_, err := fn(t, p, "out_flood").Call(ctx, 2, 100)
	if !errors.Is(err, loader.ErrDeadline) {
		t.Fatalf("flood with a blocked writer: %v, want the deadline error", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- l.Close(context.Background()) }()
	// The test's deadline stands for "never": Close waits for the last
	// output at most a second.
	if dl, ok := t.Deadline(); ok {
		select {
		case <-closed:
		case <-time.After(time.Until(dl) - 5*time.Second):
			t.Fatal("Close waits for a blocked writer")
		}
	} else {
		<-closed
	}
}

// countWriter counts what it is given and keeps none of it.
type countWriter struct{ n atomic.Int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// TestOutputFlood: 100 MiB of output reach the writer whole while the
// host allocates a small fraction of it (a fixed buffer per stream).
func TestOutputFlood(t *testing.T) {
	needKernel(t)
	const mib = 100
	var w countWriter
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{Stdout: &w, Stderr: &w})})
	p := load(t, l, "iso_output")
	f := fn(t, p, "out_flood")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := f.Call(context.Background(), 1, mib)
	if err != nil || r != mib<<20 {
		t.Fatalf("out_flood(1, %d) = %d, %v; want %d bytes written", mib, r, err, mib<<20)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := w.n.Load(); got != mib<<20 {
		t.Errorf("the writer got %d bytes, want %d", got, mib<<20)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("the host allocated %d bytes while copying %d MiB of output, want under 8 MiB", grew, mib)
	}
}

// TestChildStdioDescriptors: the child's standard output and error are
// pipes (which the host copies), never a descriptor of the host's own,
// and its standard input is /dev/null.
func TestChildStdioDescriptors(t *testing.T) {
	needKernel(t)
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{Stdout: io.Discard, Stderr: io.Discard})})
	defer l.Close(context.Background())
	p := load(t, l, "iso_output")
	pid := pluginProc(t, isolate.Pid(p))
	for fd, want := range map[int]string{0: "/dev/null", 1: "pipe:", 2: "pipe:"} {
		got, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got, want) {
			t.Errorf("child's descriptor %d is %q, want %s", fd, got, want)
		}
		if want == "pipe:" {
			if mine, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil && mine == got {
				t.Errorf("child's descriptor %d is the host's own (%s)", fd, got)
			}
		}
	}
}
