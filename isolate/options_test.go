//go:build linux && (amd64 || arm64) && cgo

package isolate

import (
	"context"
	"fmt"
	"github.com/runplug/runplug/internal/testenv"
	"reflect"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/wire"
	"github.com/runplug/runplug/loader"
)

// TestOptionsForwarded walks loader.Options: every field is either
// forwarded to an isolated plugin's child (set to a non-zero value, it
// comes out of the child's loader options the same after the real
// request codec) or listed in wire.HostOnly with a reason. A field in
// neither list, in both, or forwarded but lost on the way fails: a new
// option cannot be silently left behind in the host.
func TestOptionsForwarded(t *testing.T) {
	ot := reflect.TypeFor[loader.Options]()
	forwarded := map[string]bool{}
	for i := 0; i < ot.NumField(); i++ {
		f := ot.Field(i)
		reason, hostOnly := wire.HostOnly[f.Name]
		_, crosses := reflect.TypeFor[wire.ChildOptions]().FieldByName(f.Name)
		switch {
		case hostOnly && crosses:
			t.Errorf("Options.%s: both forwarded (wire.ChildOptions) and host-only (wire.HostOnly)", f.Name)
			continue
		case hostOnly:
			if reason == "" {
				t.Errorf("Options.%s: host-only without a reason", f.Name)
			}
			continue
		case !crosses:
			t.Errorf("Options.%s: neither forwarded to the child (wire.ChildOptions) nor listed host-only with a reason (wire.HostOnly)", f.Name)
			continue
		}
		forwarded[f.Name] = true
		values := []reflect.Value{nonZero(t, f.Type)}
		if f.Type.Kind() == reflect.Slice {
			// Empty is not nil: an empty AllowC allows no C symbol,
			// a nil one every symbol.
			values = append(values, reflect.MakeSlice(f.Type, 0, 0))
		}
		for _, want := range values {
			t.Run(fmt.Sprintf("%s=%#v", f.Name, want.Interface()), func(t *testing.T) {
				var host loader.Options
				reflect.ValueOf(&host).Elem().FieldByIndex(f.Index).Set(want)

				req := request{Loader: wire.ChildOptionsOf(host)} // what spawn sends
				var got request
				if err := got.unmarshal(req.marshal()); err != nil {
					t.Fatalf("request codec: %v", err)
				}
				child := childLoaderOptions(got.Loader, nil) // what the child's Loader gets
				v := reflect.ValueOf(child).FieldByIndex(f.Index)
				if !reflect.DeepEqual(v.Interface(), want.Interface()) {
					t.Errorf("Options.%s = %#v in the host, %#v in the child's loader", f.Name, want.Interface(), v.Interface())
				}
			})
		}
	}
	for name := range wire.HostOnly {
		if _, ok := ot.FieldByName(name); !ok {
			t.Errorf("wire.HostOnly names %s, which loader.Options does not have", name)
		}
	}
	ct := reflect.TypeFor[wire.ChildOptions]()
	for i := 0; i < ct.NumField(); i++ {
		if !forwarded[ct.Field(i).Name] {
			t.Errorf("wire.ChildOptions.%s is not a field of loader.Options", ct.Field(i).Name)
		}
	}
}

// nonZero returns a value of type t that is not its zero value.
func nonZero(t *testing.T, typ reflect.Type) reflect.Value {
	v := reflect.New(typ).Elem()
	switch typ.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		v.SetUint(4096 * 3)
	case reflect.String:
		v.SetString("/nonzero")
	case reflect.Slice:
		s := reflect.MakeSlice(typ, 2, 2)
		s.Index(0).Set(nonZero(t, typ.Elem()))
		s.Index(1).Set(nonZero(t, typ.Elem()))
		v.Set(s)
	default:
		t.Fatalf("no non-zero value of %v to forward: teach nonZero, and the codec, this kind", typ)
	}
	return v
}

// TestEmptyAllowCIsolated: an empty (not nil) Options.AllowC allows no C
// symbol, in the child as in the host: a plugin that imports libc's
// functions fails to load both ways, and loads with AllowC nil.
func TestEmptyAllowCIsolated(t *testing.T) {
	testenv.NeedNative(t, "the isolated tier (seccomp filters, user namespaces)")
	path := plugintest.Build(t, "mem_both")
	for _, isolated := range []bool{false, true} {
		for _, allow := range [][]string{{}, nil} {
			opts := loader.Options{AllowC: allow}
			if isolated {
				opts.Isolation = New(Options{})
			}
			l := loader.New(opts)
			p, err := l.Load(context.Background(), path)
			if allow == nil && err != nil || allow != nil && (err == nil || !strings.Contains(err.Error(), "undefined symbol")) {
				t.Errorf("isolated=%v AllowC=%#v: load = %v", isolated, allow, err)
			}
			if p != nil {
				p.Close(context.Background())
			}
			l.Close(context.Background())
		}
	}
}
