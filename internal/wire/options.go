package wire

import (
	"fmt"
	"reflect"
)

// ChildOptions are the fields of loader.Options that cross to an isolated
// plugin's child, each with the same name and type as there. A field of
// loader.Options is either here or in HostOnly, with the reason it stays:
// isolate's TestOptionsForwarded walks loader.Options and fails on a field
// in neither, and on a field here that does not survive the trip through
// the real codec to the child's loader.
type ChildOptions struct {
	SearchPath     []string
	GuardSize      uint64
	NoHostC        bool
	AllowC         []string
	AllowWriteExec bool
}

// HostOnly lists the fields of loader.Options that never cross to a
// child, and why.
var HostOnly = map[string]string{
	"Logger":          "the child's events come back through RemoteLoad.Logger, not a logger of its own",
	"HostSymbols":     "addresses in the host mean nothing in the child: a load with them is refused",
	"KeepAfterFault":  "the host decides about quarantine; the child keeps its plugin callable",
	"TombstoneBudget": "the child loads its plugin once and never reuses a closed image (it uses 1)",
	"BeforeCode":      "a Go function of the host; the child sets its own, to confine itself",
	"Isolation":       "the child runs its plugin in its own address space",
}

// ChildOptionsOf returns the fields of opts (a loader.Options) that cross
// to a child.
func ChildOptionsOf(opts any) ChildOptions {
	var c ChildOptions
	copyFields(reflect.ValueOf(&c).Elem(), reflect.ValueOf(opts))
	return c
}

// Apply sets the fields of *opts (a *loader.Options) that crossed to the
// child to c's.
func (c ChildOptions) Apply(opts any) {
	copyFields(reflect.ValueOf(opts).Elem(), reflect.ValueOf(c))
}

// copyFields copies every field of ChildOptions from src to dst, by name.
// A field missing from either side, or of another type, is a programming
// error that TestOptionsForwarded catches first.
func copyFields(dst, src reflect.Value) {
	t := reflect.TypeFor[ChildOptions]()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Name
		d, s := dst.FieldByName(name), src.FieldByName(name)
		if !d.IsValid() || !s.IsValid() || d.Type() != s.Type() {
			panic(fmt.Sprintf("wire: option %s: not the same field in loader.Options and ChildOptions", name))
		}
		d.Set(s)
	}
}
