package loader_test

import (
	"fmt"

	"github.com/runplug/runplug/loader"
)

// A host that profiles itself turns on runplug's cgo traceback once, then
// profiles as usual (pprof.StartCPUProfile ...): samples taken in plugin
// code are named after the plugin's functions.
func ExampleEnableProfiling() {
	if err := loader.EnableProfiling(); err != nil {
		fmt.Println("profiles will not name plugin functions:", err)
		return
	}
	fmt.Println("plugin functions appear in CPU profiles")
	// Output: plugin functions appear in CPU profiles
}
