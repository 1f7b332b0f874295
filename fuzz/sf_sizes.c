/* Measures the allocator's size classes through the public API, so the
 * fuzzer hits every class boundary +-1 without copying the class table
 * (which would silently go stale when the table changes). */
#include "segalloc.h"
#include "sf_ops.h"

#include <unistd.h>

/* Above this the probe stops: huge blocks are page-granular, so the
 * boundaries past the threshold are not interesting one by one. */
#define PROBE_LIMIT ((size_t)8 << 20)

static size_t usable_for(size_t size) {
  void *p = segalloc_malloc(size);
  size_t u = p == NULL ? 0 : segalloc_usable_size(p);
  segalloc_free(p);
  return u;
}

/* Walks the classes: malloc(s) has usable size u >= s, and every size in
 * (s, u] lands in the same class, so u is a boundary and u + 1 starts the
 * next class. Class steps never shrink along the table; the first time the
 * step shrinks, blocks have become page-granular huge blocks, and the
 * boundary before that is the large threshold. */
static void probe(sf_sizes_t *out) {
  size_t step_before = 0, huge_seen = 0;
  out->page = (size_t)sysconf(_SC_PAGESIZE);
  out->threshold = 0;
  out->nbounds = 0;
  size_t max = sizeof out->bounds / sizeof out->bounds[0];
  for (size_t s = 1; s <= PROBE_LIMIT && out->nbounds < max;) {
    size_t u = usable_for(s);
    if (u < s) /* broken usable_size; the harness reports it elsewhere */
      u = s;
    size_t prev = out->nbounds ? out->bounds[out->nbounds - 1] : 0;
    size_t step = u - prev;
    if (out->threshold == 0 && out->nbounds > 1 && step < step_before)
      out->threshold = prev;
    out->bounds[out->nbounds++] = u;
    step_before = step;
    if (out->threshold != 0 && ++huge_seen == 4)
      break;
    s = u + 1;
  }
  if (out->threshold == 0) /* no drop seen: keep the largest class seen */
    out->threshold = out->bounds[out->nbounds - 1];
}

const sf_sizes_t *sf_sizes(void) {
  /* Written once by the first input (single-threaded: targets decode before
   * they start threads). */
  static sf_sizes_t sizes;
  static int done;
  if (!done) {
    probe(&sizes);
    done = 1;
  }
  return &sizes;
}
