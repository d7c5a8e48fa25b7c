package main

import (
	"context"
	"fmt"
	"os"

	"github.com/runplug/runplug/internal/elfimage"
	"github.com/runplug/runplug/internal/fileinfo"
	"github.com/runplug/runplug/loader"
)

// Persistent state in the command: `call --state FILE` maps the plugin's
// RUNPLUG_STATE region from FILE; inspect shows the region a file
// declares (docs/STATE.md).

const stateUsage = "map the plugin's persistent state (RUNPLUG_STATE) from `FILE`, created zero-filled on first use"

// loadForCall loads path for call: with its state mapped from stateFile
// when one is given, a state migration bounded by ctx (--timeout).
func loadForCall(ctx context.Context, l *loader.Loader, path, stateFile string) (*loader.Plugin, error) {
	if stateFile == "" {
		return l.Load(context.Background(), path)
	}
	return l.LoadWith(ctx, path, loader.LoadOptions{StateFile: stateFile})
}

// StateReport is inspect's description of a persistent state region.
type StateReport struct {
	Vaddr    uint64 `json:"vaddr"`
	Size     uint64 `json:"size"`      // the region: whole pages
	TypeSize uint64 `json:"type_size"` // sizeof(TYPE)
	Version  uint32 `json:"version"`
	Migrates bool   `json:"migrates"` // exports runplug_state_migrate
	// Refused is why the loader would refuse the region ("" when it
	// would not).
	Refused string `json:"refused,omitempty"`
}

// inspectState returns the state region of f (parsed from path), nil when
// it declares none.
func inspectState(path string, f *elfimage.File) *StateReport {
	fh, err := os.Open(path)
	if err != nil {
		return &StateReport{Refused: err.Error()}
	}
	defer fh.Close()
	sl, err := fileinfo.ReadStateLayout(f, fh)
	switch {
	case err != nil:
		return &StateReport{Refused: err.Error()}
	case sl == nil:
		return nil
	}
	return &StateReport{Vaddr: sl.Vaddr, Size: sl.Size, TypeSize: sl.TypeSize, Version: sl.Version, Migrates: sl.Migrates}
}

// stateLabel is inspect's "state:" line.
func stateLabel(s *StateReport) string {
	switch {
	case s == nil:
		return "none"
	case s.Refused != "":
		return "refused: " + s.Refused
	}
	mig := "no runplug_state_migrate"
	if s.Migrates {
		mig = "exports runplug_state_migrate"
	}
	return fmt.Sprintf("version %d, type size %d bytes, region [%#x, %#x) (%d pages, RUNPLUG_STATE), %s",
		s.Version, s.TypeSize, s.Vaddr, s.Vaddr+s.Size, s.Size/4096, mig)
}
