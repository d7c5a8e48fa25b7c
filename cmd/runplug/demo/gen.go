//go:build ignore

// gen rebuilds demo.so, the example plugin embedded in runplug, from
// plugins/demo.c. It runs the exact command of demo.c's "// Build:" line
// (with cc replaced by `go env CC`, in the plugins directory) and adds
// -DDEMO_SOURCE_SHA256="<sha256 of demo.c>", so the object records which
// source it was built from. Run it with `go generate ./cmd/runplug` from
// the repository root. -o PATH writes the object elsewhere (tests use it to
// check that the committed demo.so is reproducible). -src NAME builds
// another source of plugins/ the same way (demo_state.c, the plugin of the
// demo's reload step).
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen demo.so: ")
	outFlag := flag.String("o", filepath.Join("demo", "demo.so"), "output path")
	srcFlag := flag.String("src", "demo.c", "source file in plugins/")
	flag.Parse()
	// go generate runs in the directory of the file with the directive:
	// cmd/runplug.
	pluginsDir, err := filepath.Abs(filepath.Join("..", "..", "plugins"))
	if err != nil {
		log.Fatal(err)
	}
	out, err := filepath.Abs(*outFlag)
	if err != nil {
		log.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(pluginsDir, *srcFlag))
	if err != nil {
		log.Fatal(err)
	}
	args, err := buildLine(src)
	if err != nil {
		log.Fatal(err)
	}
	sum := sha256.Sum256(src)
	def := fmt.Sprintf(`-DDEMO_SOURCE_SHA256="%s"`, hex.EncodeToString(sum[:]))
	tmp := out + ".tmp"
	var cmdArgs []string
	for i, a := range args {
		if i > 0 && args[i-1] == "-o" {
			a = tmp
		}
		cmdArgs = append(cmdArgs, a)
	}
	cmdArgs = append(cmdArgs, def)
	cmd := exec.Command(cc(), cmdArgs...)
	cmd.Dir = pluginsDir
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("%s %s: %v", cmd.Path, strings.Join(cmdArgs, " "), err)
	}
	if err := os.Rename(tmp, out); err != nil {
		log.Fatal(err)
	}
}

// buildLine returns the arguments after "cc" of the "// Build:" line.
func buildLine(src []byte) ([]string, error) {
	sc := bufio.NewScanner(bytes.NewReader(src))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "//") {
			break
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "//"))
		if rest, ok := strings.CutPrefix(line, "Build:"); ok {
			f := strings.Fields(rest)
			if len(f) < 2 || f[0] != "cc" {
				return nil, fmt.Errorf("demo.c: Build line must start with cc")
			}
			return f[1:], nil
		}
	}
	return nil, fmt.Errorf("demo.c: no // Build: line")
}

func cc() string {
	if c := os.Getenv("CC"); c != "" {
		return c
	}
	if b, err := exec.Command("go", "env", "CC").Output(); err == nil {
		if c := strings.TrimSpace(string(b)); c != "" {
			return c
		}
	}
	return "cc"
}
