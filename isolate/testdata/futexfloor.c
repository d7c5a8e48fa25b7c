// futexfloor: the floor under isolate's round trip on this machine: the same
// futex ping-pong (a word per direction, a "waiting" flag, FUTEX_WAKE only
// when the other side sleeps) between two C processes over a MAP_SHARED page.
// Usage: futexfloor CALLS SPIN [YIELD_EVERY] (SPIN: PAUSE loads before the futex).
// Build: gcc -O2 -o /tmp/futexfloor isolate/testdata/futexfloor.c
#define _GNU_SOURCE
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
typedef struct { _Atomic uint32_t w; _Atomic uint32_t waiting; char pad[56]; } word;
static void fwait(_Atomic uint32_t *w, uint32_t v){ syscall(SYS_futex, w, FUTEX_WAIT, v, 0,0,0); }
static void fwake(_Atomic uint32_t *w){ syscall(SYS_futex, w, FUTEX_WAKE, 1, 0,0,0); }
static int spin, yev;
static uint32_t waitchg(word *x, uint32_t old){
  for (int i=0;i<spin;i++){ uint32_t v=atomic_load(&x->w); if(v!=old) return v; __builtin_ia32_pause(); if(yev&&i%yev==yev-1) syscall(SYS_sched_yield); }
  for(;;){ atomic_store(&x->waiting,1); uint32_t v=atomic_load(&x->w); if(v!=old){atomic_store(&x->waiting,0);return v;} fwait(&x->w,old);} }
static void post(word *x){ atomic_fetch_add(&x->w,1); if(atomic_load(&x->waiting)) { atomic_store(&x->waiting,0); fwake(&x->w);} }
static double now(){ struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec*1e9+t.tv_nsec; }
static int cmp(const void*a,const void*b){ double x=*(double*)a,y=*(double*)b; return x<y?-1:x>y; }
int main(int argc,char**argv){
  int n=atoi(argv[1]); spin=atoi(argv[2]); yev=argc>3?atoi(argv[3]):0;
  word *m=mmap(0,4096,PROT_READ|PROT_WRITE,MAP_SHARED|MAP_ANONYMOUS,-1,0);
  word *toc=&m[0], *toh=&m[1];
  if(fork()==0){ uint32_t seen=0; for(;;){ seen=waitchg(toc,seen); if(seen==(uint32_t)-1)_exit(0); post(toh);} }
  double *d=malloc(n*sizeof(double)); uint32_t seen=0;
  for(int i=0;i<n;i++){ double t=now(); post(toc); seen=waitchg(toh,seen); d[i]=now()-t; }
  atomic_store(&toc->w,(uint32_t)-1); fwake(&toc->w); wait(0);
  qsort(d,n,sizeof(double),cmp);
  printf("spin=%d yield/%d p10=%.0f p50=%.0f p90=%.0f ns\n",spin,yev,d[n/10],d[n/2],d[n*9/10]);
}
