// gio_backend: a program (not a plugin) that asks glibc's dlopen for
// GIO's default settings backend and prints its type name: the reference
// loader.TestGIOSettingsBackend compares runplug with (GIO dlopens its
// modules, which need libgio back: DConfSettingsBackend when
// dconf-gsettings-backend is installed).
//
// Build: cc -O2 -Wall -o gio_backend gio_backend.c -ldl

#include <dlfcn.h>
#include <stdio.h>

int main(void) {
	void *h = dlopen("libgio-2.0.so.0", RTLD_NOW);
	if (h == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	void *(*get)(void) = (void *(*)(void))dlsym(h, "g_settings_backend_get_default");
	const char *(*type_name)(void *) = (const char *(*)(void *))dlsym(h, "g_type_name_from_instance");
	if (get == NULL || type_name == NULL) {
		fprintf(stderr, "dlsym: %s\n", dlerror());
		return 1;
	}
	printf("%s\n", type_name(get()));
	return 0;
}
