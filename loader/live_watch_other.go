//go:build !linux

package loader

import (
	"fmt"

	"github.com/runplug/runplug/internal/elfimage"
)

// The file watcher needs inotify: elsewhere LoadLive fails at run
// time (no build of the loader runs plugins off Linux).

type watcher struct{}

func (w *watcher) stop() {}

func (lv *Live) startWatch() (*watcher, error) {
	return nil, fmt.Errorf("watch: %w", elfimage.ErrUnsupported)
}
