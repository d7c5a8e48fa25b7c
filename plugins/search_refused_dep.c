// search_refused_dep: needs reloc_textrel, which is found (through
// DT_RUNPATH $ORIGIN) but refused (DT_TEXTREL): the load must report that
// refusal with the dependency's path, not "not found".
//
// Build: cc -shared -fPIC -O2 -Wall -o search_refused_dep.so search_refused_dep.c -L. -l:reloc_textrel.so -Wl,-rpath,$ORIGIN
// Needs: reloc_textrel

int *textrel_get(void);

int search_refused_dep(void) { return *textrel_get(); }
