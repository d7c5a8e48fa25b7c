package runplug_test

// README.md's "Your first plugin" sections run here exactly as written, so
// that what a newcomer copies works: each fenced block whose info string
// says try=NAME belongs to example NAME; file=PATH blocks are written to
// PATH in an empty directory, the sh blocks run there with bash (RUNPLUG
// set to this clone, as the README asks the reader to set it), and their
// standard output must match the "output" block, where "..." stands for
// any text (an address).

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// readmeExample is one try=NAME example of README.md.
type readmeExample struct {
	name   string
	files  map[string]string // path -> content
	script string            // the sh blocks, in order
	output string            // the expected standard output
	langs  []string          // the info strings' languages, for the tools
}

// readmeExamples parses README.md's fenced blocks with a try= attribute.
func readmeExamples(t *testing.T, readme []byte) []*readmeExample {
	t.Helper()
	var order []*readmeExample
	byName := map[string]*readmeExample{}
	sc := bufio.NewScanner(bytes.NewReader(readme))
	var cur *strings.Builder
	var attrs map[string]string
	var lang string
	for sc.Scan() {
		line := sc.Text()
		if cur != nil {
			if line == "```" {
				name := attrs["try"]
				ex := byName[name]
				if ex == nil {
					ex = &readmeExample{name: name, files: map[string]string{}}
					byName[name] = ex
					order = append(order, ex)
				}
				ex.langs = append(ex.langs, lang)
				switch _, isOut := attrs["output"]; {
				case attrs["file"] != "":
					ex.files[attrs["file"]] = cur.String()
				case isOut:
					ex.output += cur.String()
				case lang == "sh":
					ex.script += cur.String()
				default:
					t.Fatalf("README.md: a try=%s block of %s with neither file= nor output", name, lang)
				}
				cur = nil
				continue
			}
			cur.WriteString(line + "\n")
			continue
		}
		info, ok := strings.CutPrefix(line, "```")
		if !ok || !strings.Contains(info, "try=") {
			continue
		}
		f := strings.Fields(info)
		lang, attrs = f[0], map[string]string{}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			attrs[k] = v
		}
		cur = new(strings.Builder)
	}
	if cur != nil {
		t.Fatal("README.md: a fenced block is not closed")
	}
	return order
}

// TestReadmeFirstPlugin runs README.md's first-plugin examples: C, and C++
// with Rust.
func TestReadmeFirstPlugin(t *testing.T) {
	// The README's commands use the machine's own cc, g++, rustc and go.
	testenv.NeedNative(t, "the README's commands with the machine's own compilers")
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	examples := readmeExamples(t, readme)
	langs := map[string]bool{}
	for _, ex := range examples {
		for _, l := range ex.langs {
			langs[l] = true
		}
	}
	for _, l := range []string{"c", "cpp", "rust", "go"} {
		if !langs[l] {
			t.Errorf("README.md has no first-plugin block in %s", l)
		}
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			if ex.script == "" || ex.output == "" || len(ex.files) == 0 {
				t.Fatalf("example %s: files %d, script %q, output %q: want all three", ex.name, len(ex.files), ex.script, ex.output)
			}
			path := os.Getenv("PATH")
			for _, l := range ex.langs {
				switch l {
				case "c":
					testenv.LookPath(t, "cc", "apt-get install gcc")
				case "cpp":
					testenv.LookPath(t, "g++", "apt-get install g++")
				case "rust":
					rustc, err := plugintest.Rustc()
					if err != nil {
						testenv.Skipf(t, "%v (apt-get install rustc)", err)
					}
					path = filepath.Dir(rustc) + string(os.PathListSeparator) + path
				}
			}
			dir := t.TempDir()
			for name, content := range ex.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("bash", "-euo", "pipefail", "-c", ex.script)
			cmd.Dir = dir
			cmd.Env = append(readmeEnv(), "RUNPLUG="+root, "PATH="+path)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("README.md example %s: %v\nscript:\n%s\nstderr:\n%s", ex.name, err, ex.script, stderr.String())
			}
			if !matchOutput(ex.output, stdout.String()) {
				t.Errorf("README.md example %s printed\n%s\nREADME.md says\n%s", ex.name, stdout.String(), ex.output)
			}
		})
	}
}

// readmeEnv is this process's environment without what would make the
// example's go commands behave otherwise than a reader's (a workspace or
// flags set for this test run).
func readmeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOWORK", "GOFLAGS", "PATH", "RUNPLUG":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// matchOutput reports whether got matches want line by line, "..." in a
// line of want standing for any text.
func matchOutput(want, got string) bool {
	w := strings.Split(strings.TrimSuffix(want, "\n"), "\n")
	g := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(w) != len(g) {
		return false
	}
	for i := range w {
		parts := strings.Split(w[i], "...")
		for j := range parts {
			parts[j] = regexp.QuoteMeta(parts[j])
		}
		if !regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(g[i]) {
			return false
		}
	}
	return true
}

// TestReadmeShape: README.md stays a product page (at most 300 lines), its
// test command is the one CI runs, and every docs/ file it links exists.
func TestReadmeShape(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(readme, []byte("\n")); n > 300 {
		t.Errorf("README.md has %d lines, want at most 300: depth goes to docs/", n)
	}
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	// .ci/run may set variables for the command (RUNPLUG_FULL_SURVEY=1),
	// not change it.
	ciTest := regexp.MustCompile(`(?m)^([A-Z_]+=\S+ )*go test \./\.\.\.$`)
	if !bytes.Contains(readme, []byte("\n    go test ./...")) || !ciTest.Match(ci) {
		t.Errorf("README.md's test command and .ci/run's must both be `go test ./...`")
	}
	for _, m := range regexp.MustCompile(`\]\((docs/[A-Za-z-]+\.md)\)`).FindAllSubmatch(readme, -1) {
		name := string(m[1])
		if _, err := os.Stat(name); err != nil {
			t.Errorf("README.md links %s: %v", name, err)
		}
	}
}
