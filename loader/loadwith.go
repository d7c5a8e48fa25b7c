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
}

// LoadWith is Load with per-load options. ctx bounds the plugin code the
// load runs besides the constructors: a state migration
// (runplug_state_migrate) is interrupted when ctx is done, and the load
// then fails.
func (l *Loader) LoadWith(ctx context.Context, path string, o LoadOptions) (*Plugin, error) {
	mustContext(ctx)
	return l.load(ctx, path, stateSource{path: o.StateFile})
}
