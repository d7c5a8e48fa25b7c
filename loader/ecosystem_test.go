package loader

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/runplug/runplug/internal/plugintest"
	"github.com/runplug/runplug/internal/testenv"
)

// Real plugin ecosystems whose modules, opened with dlopen by the library
// the host loaded, need that library back (docs/NAMESPACES.md): they must
// bind to the loaded instance, not to a second copy.

// instanceCopies counts the objects of l named name: shared by the Loader
// or private to one of its instances, roots included.
func instanceCopies(l *Loader, name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	seen := map[*object]bool{}
	count := func(o *object) {
		if !seen[o] && o.name == name {
			n++
		}
		seen[o] = true
	}
	for _, o := range l.byKey {
		count(o)
	}
	for p := range l.plugins {
		count(p.obj)
		if p.obj.inst != nil {
			for _, o := range p.obj.inst.byKey {
				count(o)
			}
		}
	}
	return n
}

// TestGIOSettingsBackend: GIO's default settings backend is the one
// glibc's dlopen gives (DConfSettingsBackend with dconf installed: GIO
// dlopens libdconfsettings.so through libgmodule, and the module, which
// needs libgio, registers its backend with the loaded libgio), and there
// is one libgio.
func TestGIOSettingsBackend(t *testing.T) {
	testenv.NeedPort(t, runtime.GOARCH == "amd64", "GIO's settings module (its x86-64 path; the arm64 job installs no GLib)")
	gio := systemLib(t, "libgio-2.0.so.0")
	testenv.NeedFile(t, "/usr/lib/x86_64-linux-gnu/gio/modules/libdconfsettings.so", "dconf-gsettings-backend")
	out, err := exec.Command(plugintest.Build(t, "gio_backend")).Output()
	if err != nil {
		t.Fatalf("gio_backend (glibc's dlopen): %v", err)
	}
	want := strings.TrimSpace(string(out))

	l := newLoader(t, Options{})
	p, err := l.Load(context.Background(), gio)
	if err != nil {
		t.Fatal(err)
	}
	get, err := p.Func("g_settings_backend_get_default")
	if err != nil {
		t.Fatal(err)
	}
	typeName, err := p.Func("g_type_name_from_instance") // libgobject's, through libgio's dependencies
	if err != nil {
		t.Fatal(err)
	}
	backend, err := get.Call(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	np, err := typeName.Call(context.Background(), backend)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.ReadString(uintptr(np), 256)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("runplug: settings backend %s, glibc's dlopen: %s", got, want)
	}
	if n := instanceCopies(l, "libgio-2.0.so.0"); n != 1 {
		t.Errorf("%d copies of libgio-2.0.so.0, want 1", n)
	}
}

// TestOpenSSLLegacyProvider: OSSL_PROVIDER_load(NULL, "legacy") dlopens
// ossl-modules/legacy.so, which needs libcrypto.so.3: it binds to the
// loaded libcrypto (one copy, the provider private to that instance), and
// MD4, which only the legacy provider implements, becomes available in it.
func TestOpenSSLLegacyProvider(t *testing.T) {
	testenv.NeedPort(t, runtime.GOARCH == "amd64", "OpenSSL's legacy provider (its x86-64 path; the arm64 job installs no OpenSSL)")
	crypto := systemLib(t, "libcrypto.so.3")
	testenv.NeedFile(t, "/usr/lib/x86_64-linux-gnu/ossl-modules/legacy.so", "libssl3")
	l := newLoader(t, Options{})
	p, err := l.Load(context.Background(), crypto)
	if err != nil {
		t.Fatal(err)
	}
	fetch, err := Bind3[uint64, string, uint64, uint64](fnOf(t, p, "EVP_MD_fetch"))
	if err != nil {
		t.Fatal(err)
	}
	free, err := Bind1[uint64, int32](fnOf(t, p, "EVP_MD_free"))
	if err != nil {
		t.Fatal(err)
	}
	md4 := func() bool {
		t.Helper()
		md, err := fetch(context.Background(), 0, "MD4", 0)
		if err != nil {
			t.Fatal(err)
		}
		if md != 0 {
			if _, err := free(context.Background(), md); err != nil {
				t.Fatal(err)
			}
		}
		return md != 0
	}
	if md4() {
		t.Fatal("MD4 available before the legacy provider is loaded")
	}
	load, err := Bind2[uint64, string, uint64](fnOf(t, p, "OSSL_PROVIDER_load"))
	if err != nil {
		t.Fatal(err)
	}
	prov, err := load(context.Background(), 0, "legacy")
	if err != nil {
		t.Fatal(err)
	}
	if prov == 0 {
		t.Fatal(`OSSL_PROVIDER_load(NULL, "legacy") = NULL`)
	}
	if !md4() {
		t.Error("MD4 not available in this libcrypto after loading the legacy provider")
	}
	if n := instanceCopies(l, "libcrypto.so.3"); n != 1 {
		t.Errorf("%d copies of libcrypto.so.3, want 1", n)
	}
	l.mu.Lock()
	var legacy *object
	for _, o := range p.obj.inst.byKey {
		if filepath.Base(o.path) == "legacy.so" {
			legacy = o
		}
	}
	bound := legacy != nil && len(legacy.deps) > 0 && legacy.deps[0] == p.obj
	l.mu.Unlock()
	if !bound {
		t.Errorf("legacy.so is %v, want it private to the instance and bound to its libcrypto", legacy)
	}
}
