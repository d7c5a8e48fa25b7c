// reloc_textrel: code built without -fPIC in the large code model, so the
// linker leaves relocations in the text segment (DT_TEXTREL, allowed by
// -z notext). runplug's loader refuses it.
//
// Build: cc -shared -fno-PIC -mcmodel=large -O2 -Wall -Wl,-z,notext -o reloc_textrel.so reloc_textrel.c

int textrel_value = 5;

int *textrel_get(void) { return &textrel_value; }
