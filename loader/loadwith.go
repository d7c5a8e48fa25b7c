package loader

import "context"

// LoadOptions are the options of one load (LoadWith).
type LoadOptions struct {
	// StateFile is the file the plugin's persistent state region
	// (RUNPLUG_STATE, docs/STATE.md) is mapped from: created, zero-filled,
	// when it does not exist; migrated when it holds another layout. ""
	// gives the instance an anonymous memfd of its own. A plugin without
	// a state region ignores it.
	StateFile string
	// Global makes the plugin's exports, and its dependencies', resolve
	// the undefined symbols of the plugins loaded after it, as dlopen's
	// RTLD_GLOBAL does: liblua for Lua C modules, which import lua_*
	// without a DT_NEEDED entry for it. They are searched after the
	// later plugin's own scope, in the order plugins became global, and
	// by dlsym(RTLD_DEFAULT). Closing the plugin ends it; while a live
	// plugin's imports are bound to it, its image stays mapped and its
	// destructors wait until the Loader closes, as glibc keeps an object
	// another's relocations bound to. An isolated plugin runs alone in
	// its process: Global is refused for it, wrapping
	// ErrUnsupported.
	Global bool
}

// LoadWith is Load with per-load options. ctx bounds the plugin code the
// load runs besides the constructors: a state migration
// (runplug_state_migrate) is interrupted when ctx is done, and the load
// then fails.
func (l *Loader) LoadWith(ctx context.Context, path string, o LoadOptions) (*Plugin, error) {
	mustContext(ctx)
	if o.Global {
		return l.loadGlobal(ctx, path, stateSource{path: o.StateFile}) // global.go
	}
	return l.load(ctx, path, stateSource{path: o.StateFile})
}
