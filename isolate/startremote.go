package isolate

import (
	"context"
	"fmt"

	"github.com/runplug/runplug/internal/errs"
	"github.com/runplug/runplug/internal/wire"
)

// The loader starts an isolated plugin through wire.StartRemote, not
// through a method of Isolator: the Isolator's public methods are only
// those a host calls.
func init() {
	wire.StartRemote = func(ctx context.Context, iso wire.Isolation, req *wire.RemoteLoad) (wire.Remote, error) {
		i, ok := iso.(*Isolator)
		if !ok || i == nil {
			return nil, fmt.Errorf("isolate: Options.Isolation is %T, not a non-nil *isolate.Isolator: %w", iso, errs.ErrUnsupported)
		}
		return i.startRemote(ctx, req)
	}
}
