// kvplugin: the plugin of the kvstore example. It counts words in the
// key-value store its host owns (one key per word, the count as a decimal
// string) and logs through the host. It calls only host functions and
// libc: kv_get and kv_put are the example host's, runplug_log is declared
// in plugins/runplug.h.
//
// Build: cc -shared -fPIC -O2 -Wall -I../../../plugins -o kvplugin.so kvplugin.c

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "runplug.h"

// Host functions of the kvstore example (main.go).

// kv_get copies the value of key into buf (at most size bytes, NUL
// included) and returns its length, or -1 when key is absent.
int64_t kv_get(const char *key, char *buf, uint64_t size);
// kv_put sets key to value; it returns 1 when key is new, else 0.
int32_t kv_put(const char *key, const char *value);

// count_word adds one to the count of word and returns the new count.
static int64_t count_word(const char *word) {
	char val[32];
	int64_t n = 0;
	int64_t len = kv_get(word, val, sizeof val);
	if (len >= 0 && len < (int64_t)sizeof val) {
		n = strtoll(val, NULL, 10);
	}
	n++;
	snprintf(val, sizeof val, "%lld", (long long)n);
	if (kv_put(word, val)) {
		char msg[96];
		snprintf(msg, sizeof msg, "new word \"%s\"", word);
		runplug_log(RUNPLUG_LOG_DEBUG, msg);
	}
	return n;
}

// count_words counts every word of text (letters and digits, lowercased,
// at most 63 bytes) in the host's store and returns how many it saw.
int32_t count_words(const char *text) {
	char word[64];
	size_t w = 0;
	int32_t words = 0;
	for (const char *p = text;; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c)) {
			if (w < sizeof word - 1) {
				word[w++] = (char)tolower(c);
			}
			continue;
		}
		if (w > 0) {
			word[w] = 0;
			count_word(word);
			words++;
			w = 0;
		}
		if (c == 0) {
			break;
		}
	}
	char msg[64];
	snprintf(msg, sizeof msg, "counted %d words", words);
	runplug_log(RUNPLUG_LOG_INFO, msg);
	return words;
}

// word_count returns the count of word in the host's store (0 if absent).
int64_t word_count(const char *word) {
	char val[32];
	if (kv_get(word, val, sizeof val) < 0) {
		return 0;
	}
	return strtoll(val, NULL, 10);
}
