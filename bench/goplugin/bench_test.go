package goplugin_test

import (
	"context"
	"fmt"
	"net/rpc"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/isolate"
	"github.com/runplug/runplug/loader"
)

// Adder is the go-plugin side's interface: the same add(a, b) as
// isolate_faults.so's.
type Adder interface {
	Add(a, b int64) int64
}

type adder struct{}

func (adder) Add(a, b int64) int64 { return a + b }

// adderRPC is the client half over net/rpc.
type adderRPC struct{ c *rpc.Client }

// AddArgs are Add's arguments (exported: net/rpc encodes them with gob).
type AddArgs struct{ A, B int64 }

func (a *adderRPC) Add(x, y int64) int64 {
	var r int64
	if err := a.c.Call("Plugin.Add", AddArgs{x, y}, &r); err != nil {
		panic(err)
	}
	return r
}

// AdderServer is the server half.
type AdderServer struct{ impl Adder }

func (s *AdderServer) Add(args AddArgs, r *int64) error {
	*r = s.impl.Add(args.A, args.B)
	return nil
}

type adderPlugin struct{ impl Adder }

func (p *adderPlugin) Server(*plugin.MuxBroker) (interface{}, error) {
	return &AdderServer{impl: p.impl}, nil
}

func (p *adderPlugin) Client(b *plugin.MuxBroker, c *rpc.Client) (interface{}, error) {
	return &adderRPC{c: c}, nil
}

var handshake = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "RUNPLUG_BENCH", MagicCookieValue: "goplugin"}

const envServe = "RUNPLUG_BENCH_GOPLUGIN_SERVE"

// TestMain serves the go-plugin side when the test binary is started as
// the plugin (go-plugin's way: the host execs the plugin binary).
func TestMain(m *testing.M) {
	if os.Getenv(envServe) == "1" {
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: handshake,
			Plugins:         map[string]plugin.Plugin{"adder": &adderPlugin{impl: adder{}}},
			Logger:          hclog.NewNullLogger(),
		})
		os.Exit(0)
	}
	// yamux (under go-plugin's client) logs a harmless "broken pipe"
	// when a plugin is killed; on stderr, which go test mixes into the
	// benchmark lines. Its default config reads os.Stderr when used.
	if devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		os.Stderr = devnull
	}
	os.Exit(m.Run())
}

// startGoPlugin starts the go-plugin process and dispenses the adder.
func startGoPlugin(b *testing.B) (*plugin.Client, Adder) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envServe+"=1")
	c := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake,
		Plugins:          map[string]plugin.Plugin{"adder": &adderPlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolNetRPC},
		Logger:           hclog.NewNullLogger(),
	})
	rc, err := c.Client()
	if err != nil {
		b.Fatal(err)
	}
	raw, err := rc.Dispense("adder")
	if err != nil {
		b.Fatal(err)
	}
	return c, raw.(Adder)
}

// startIsolated loads isolate_faults.so isolated and returns its add.
func startIsolated(b *testing.B, l *loader.Loader, path string) (*loader.Plugin, *loader.Func) {
	p, err := l.Load(context.Background(), path)
	if err != nil {
		b.Fatal(err)
	}
	f, err := p.Func("add")
	if err != nil {
		b.Fatal(err)
	}
	return p, f
}

func median(b *testing.B, ds []time.Duration, scale float64, unit string) {
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2])/scale, unit)
}

// BenchmarkStart: start the plugin process, make the first call; stop it
// (not timed).
func BenchmarkStart(b *testing.B) {
	path, err := plugintest.BuildErr("isolate_faults")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("runplug-isolated", func(b *testing.B) {
		l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{})})
		defer l.Close(context.Background())
		ds := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			p, f := startIsolated(b, l, path)
			if r, err := f.Call(context.Background(), 1, 2); err != nil || r != 3 {
				b.Fatal(r, err)
			}
			ds = append(ds, time.Since(t0))
			b.StopTimer()
			p.Close(context.Background())
			b.StartTimer()
		}
		median(b, ds, 1e6, "p50-ms")
	})
	b.Run("go-plugin", func(b *testing.B) {
		ds := make([]time.Duration, 0, b.N)
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			c, a := startGoPlugin(b)
			if r := a.Add(1, 2); r != 3 {
				b.Fatal(r)
			}
			ds = append(ds, time.Since(t0))
			b.StopTimer()
			c.Kill()
			b.StartTimer()
		}
		median(b, ds, 1e6, "p50-ms")
	})
}

// cpuTime returns the CPU time of this process (all threads) and of pid
// (the sum of its threads' /proc schedstat run times, in ns).
func cpuTime(b *testing.B, pid int) (self, child time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		var run int64
		fmt.Sscan(string(data), &run)
		child += time.Duration(run)
	}
	return self, child
}

// reportCPU reports the CPU time both processes spent per call: a cost
// that the machine's load does not inflate the way it does wall time.
func reportCPU(b *testing.B, pid int, self0, child0 time.Duration) {
	self1, child1 := cpuTime(b, pid)
	b.ReportMetric(float64(self1-self0+child1-child0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkCall: add(a, b) round trips, one goroutine; p50-ns is the median
// call, cpu-ns/op the CPU time of both processes per call.
func BenchmarkCall(b *testing.B) {
	path, err := plugintest.BuildErr("isolate_faults")
	if err != nil {
		b.Fatal(err)
	}
	l := loader.New(loader.Options{Isolation: isolate.New(isolate.Options{})})
	defer l.Close(context.Background())
	p, f := startIsolated(b, l, path)
	c, a := startGoPlugin(b)
	defer c.Kill()
	b.Run("runplug-isolated", func(b *testing.B) {
		ctx := context.Background()
		pid := isolate.Pid(p)
		ds := make([]time.Duration, b.N)
		self0, child0 := cpuTime(b, pid)
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			r, err := f.Call(ctx, uint64(i), 1)
			ds[i] = time.Since(t0)
			if err != nil || r != uint64(i)+1 {
				b.Fatal(r, err)
			}
		}
		reportCPU(b, pid, self0, child0)
		median(b, ds, 1, "p50-ns")
	})
	b.Run("go-plugin", func(b *testing.B) {
		pid := c.ReattachConfig().Pid
		ds := make([]time.Duration, b.N)
		self0, child0 := cpuTime(b, pid)
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			r := a.Add(int64(i), 1)
			ds[i] = time.Since(t0)
			if r != int64(i)+1 {
				b.Fatal(r)
			}
		}
		reportCPU(b, pid, self0, child0)
		median(b, ds, 1, "p50-ns")
	})
}
