// ladspa_like: a plugin that hands out its code as a table of C function
// pointers, as LADSPA's descriptor(), SQLite's xFunc tables and C++
// vtables do. The host reads the Descriptor that descriptor() returns
// (Plugin.ReadMemory) and calls each pointer through Plugin.FuncAt: the
// ordinary ones, one that faults, one that spins until its deadline, and
// one that waits for the host to release it (to close the plugin during
// the call). The loader tests call it in process and isolated.
//
// Build: cc -shared -fPIC -O2 -Wall -o ladspa_like.so ladspa_like.c

#include <stdint.h>
#include <stdlib.h>

typedef struct Amp {
	double gain;
	int64_t runs;
} Amp;

typedef struct Descriptor {
	uint64_t unique_id;
	const char *label;
	void *(*instantiate)(uint64_t sample_rate);
	void (*connect_port)(void *h, uint64_t port, double value); // port 0: the gain
	int64_t (*run)(void *h, const float *in, float *out, uint64_t n); // the runs so far
	void (*cleanup)(void *h);
	int64_t (*fault)(void *h);        // writes through NULL
	int64_t (*spin)(void *h);         // sets ladspa_entered, never returns: only a deadline ends it
	int64_t (*wait_release)(void *h); // sets ladspa_entered, returns 7 once ladspa_released is set
} Descriptor;

// The handshake of wait_release, read and written by the host through
// Plugin.ReadMemory and WriteMemory.
volatile int64_t ladspa_entered, ladspa_released;

static void *instantiate(uint64_t sample_rate) {
	Amp *a = calloc(1, sizeof *a);
	if (a)
		a->gain = sample_rate > 0 ? 1.0 : 0.0;
	return a;
}

static void connect_port(void *h, uint64_t port, double value) {
	if (port == 0)
		((Amp *)h)->gain = value;
}

static int64_t run(void *h, const float *in, float *out, uint64_t n) {
	Amp *a = h;
	for (uint64_t i = 0; i < n; i++)
		out[i] = (float)(in[i] * a->gain);
	return ++a->runs;
}

static void cleanup(void *h) { free(h); }

static int64_t fault(void *h) {
	(void)h;
	volatile int64_t *p = 0;
	return *p;
}

static int64_t spin(void *h) {
	(void)h;
	ladspa_entered = 1;
	for (;;)
		__asm__ volatile("" ::: "memory");
}

static int64_t wait_release(void *h) {
	(void)h;
	ladspa_entered = 1;
	while (!ladspa_released)
#if defined(__aarch64__)
		__asm__ volatile("yield" ::: "memory");
#else
		__asm__ volatile("pause" ::: "memory");
#endif
	return 7;
}

static const Descriptor amp = {
	.unique_id = 1049,
	.label = "amp",
	.instantiate = instantiate,
	.connect_port = connect_port,
	.run = run,
	.cleanup = cleanup,
	.fault = fault,
	.spin = spin,
	.wait_release = wait_release,
};

// descriptor returns the plugin's descriptor number index, or NULL past
// the last.
const Descriptor *descriptor(unsigned long index) { return index == 0 ? &amp : NULL; }
