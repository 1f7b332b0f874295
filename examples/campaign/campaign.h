/* The harness of the example fuzz targets of examples/campaign, included
 * by each one's only source file: LLVMFuzzerTestOneInput checks the magic
 * "FZ", hands the rest to the target's campaign_parse (which hides one
 * heap bug that only some inputs reach), then runs the per-input check. */
#ifndef SEGALLOC_EXAMPLES_CAMPAIGN_H
#define SEGALLOC_EXAMPLES_CAMPAIGN_H

#include <stddef.h>
#include <stdint.h>

/* The debug build's per-input check (segalloc_debug.h), declared weak so
 * that one source builds for every configuration: it is there when the
 * debug build is linked in or preloaded (AFL_PRELOAD), NULL otherwise. */
extern int segalloc_check_now(void) __attribute__((weak));

/* Damage this input did is reported now, blamed on it, not on a later
 * input of the same process (libFuzzer, AFL++ persistent mode). */
static inline void campaign_input_done(void) {
  if (segalloc_check_now != NULL)
    segalloc_check_now();
}

/* Hands the bytes to code the compiler can't see through, as a real
 * program would: without it -O2 may drop a malloc/free pair whose memory
 * is never read, and with it the planted bug. */
static volatile unsigned campaign_sink;
__attribute__((noinline)) static unsigned campaign_use(const void *p,
                                                       size_t n) {
  const uint8_t *b = p;
  unsigned h = 0;
  for (size_t i = 0; i < n; i++)
    h = h * 31 + b[i];
  campaign_sink += h;
  return h;
}

void campaign_parse(const uint8_t *data, size_t size);

/* The magic is compared a byte at a time, as a byte-wise parser would:
 * the volatile store between keeps the compiler from merging the two
 * compares into one 16-bit compare that AFL++ could only guess whole. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size >= 2 && data[0] == 'F') {
    campaign_sink = 1;
    if (data[1] == 'Z')
      campaign_parse(data + 2, size - 2);
  }
  campaign_input_done();
  return 0;
}

#endif /* SEGALLOC_EXAMPLES_CAMPAIGN_H */
