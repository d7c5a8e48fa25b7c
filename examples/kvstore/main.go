// Command kvstore is the example host program of runplug's host API: it
// owns a key-value store, lets a plugin read and write it through host
// functions (kv_get, kv_put) and log through another (runplug_log, as
// declared in plugins/runplug.h), then calls the plugin with typed
// bindings.
//
// Usage:
//
//	kvstore PLUGIN.so TEXT...
//
// It loads PLUGIN.so (plugin/kvplugin.c built by its Build line), has it count
// the words of each TEXT into the store, asks it for the count of "the",
// and prints the store.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"

	"github.com/runplug/runplug/loader"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: kvstore PLUGIN.so TEXT...")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kvstore:", err)
		os.Exit(1)
	}
}

// store is the host's key-value store.
type store struct {
	mu sync.Mutex
	m  map[string]string
}

func (s *store) get(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	return v, ok
}

// put sets key and reports whether it is new.
func (s *store) put(key, value string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, old := s.m[key]
	s.m[key] = value
	return !old
}

var levels = []string{"debug", "info", "warn", "error"}

// run loads the plugin at path, counts the words of texts with it and
// prints what happened to w.
func run(path string, texts []string, w io.Writer) error {
	st := &store{m: map[string]string{}}
	l := loader.New(loader.Options{})
	defer l.Close(context.Background())

	hostFuncs := map[string]any{
		// void runplug_log(int32_t level, const char *msg)
		"runplug_log": func(level int32, msg string) {
			name := "level?"
			if level >= 0 && int(level) < len(levels) {
				name = levels[level]
			}
			fmt.Fprintf(w, "plugin %s: %s\n", name, msg)
		},
		// int32_t kv_put(const char *key, const char *value)
		"kv_put": func(key, value string) bool { return st.put(key, value) },
		// int64_t kv_get(const char *key, char *buf, uint64_t size)
		"kv_get": kvGet(st),
	}
	for name, fn := range hostFuncs {
		if _, err := l.RegisterHostFunc(name, fn); err != nil { // released by l.Close
			return err
		}
	}

	p, err := l.Load(context.Background(), path)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "loaded %s\n", p.Name())
	countWords, err := loader.Bind1[string, int32](p, "count_words")
	if err != nil {
		return err
	}
	wordCount, err := loader.Bind1[string, int64](p, "word_count")
	if err != nil {
		return err
	}
	for _, text := range texts {
		n, err := countWords(text)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "%q: %d words\n", text, n)
	}
	n, err := wordCount("the")
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "the plugin counts %d x \"the\"\n", n)

	keys := make([]string, 0, len(st.m))
	for k := range st.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "store (%d keys):\n", len(keys))
	for _, k := range keys {
		v, _ := st.get(k)
		fmt.Fprintf(w, "  %s = %s\n", k, v)
	}
	return p.Close(context.Background())
}
