// Command fuzzseeds writes the committed seed corpus of a fuzz target from
// the test plugins (plugintest.FuzzSeedPlugins): testdata/fuzz/TARGET/plugin-NAME
// in the current directory, in the go test fuzz v1 format. go generate
// runs it in internal/elfimage (FuzzParse) and loader (FuzzLink):
//
//	go generate ./internal/elfimage ./loader
package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/runplug/runplug/internal/plugintest"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("fuzzseeds: ")
	if len(os.Args) != 2 {
		log.Fatal("usage: fuzzseeds TARGET (FuzzParse or FuzzLink)")
	}
	target := os.Args[1]
	plugins, ok := plugintest.FuzzSeedPlugins[target]
	if !ok {
		log.Fatalf("unknown fuzz target %q", target)
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, name := range plugins {
		b, err := plugintest.SeedImage(name)
		if err != nil {
			log.Fatal(err)
		}
		write(dir, "plugin-"+name, b)
		if target == "FuzzParse" && name == plugins[0] {
			// A file cut short: Parse must refuse it, naming the field.
			write(dir, "plugin-"+name+"-truncated", b[:len(b)/2])
		}
	}
}

func write(dir, name string, b []byte) {
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		log.Fatal(err)
	}
}
