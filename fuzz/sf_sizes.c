/* Measures the allocator's size classes through the public API, so the
 * fuzzer hits every class boundary +-1 without copying the class table
 * (which would silently go stale when the table changes): from
 * segalloc_usable_size, or from the in-use stats when usable sizes are
 * exact (debug build). */
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

/* What one block of `size` costs the heap, from the stats: the block size
 * of its class (plus any per-block overhead of the debug build). */
static size_t block_bytes(size_t size) {
  segalloc_stats_t before, after;
  segalloc_get_stats(&before);
  void *p = segalloc_malloc(size);
  segalloc_get_stats(&after);
  segalloc_free(p);
  return after.in_use_bytes - before.in_use_bytes;
}

/* The largest size >= s (and <= PROBE_LIMIT) with the same block_bytes as
 * s: exponential search, then binary search (block_bytes never decreases
 * with the size). */
static size_t class_end(size_t s) {
  size_t b = block_bytes(s), lo = s, step = 1;
  while (lo + step <= PROBE_LIMIT && block_bytes(lo + step) == b) {
    lo += step;
    step *= 2;
  }
  size_t hi = lo + step <= PROBE_LIMIT ? lo + step : PROBE_LIMIT + 1;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (block_bytes(mid) == b)
      lo = mid;
    else
      hi = mid;
  }
  return lo;
}

/* Walks the classes: malloc(s) has usable size u >= s, and every size in
 * (s, u] lands in the same class, so u is a boundary and u + 1 starts the
 * next class. Class steps are multiples of 16 and never shrink along the
 * table; the first step that shrinks or is odd-sized means blocks have
 * become huge blocks (page-granular, or sized by the huge cache), and the
 * boundary before it is the large threshold. */
static void probe(sf_sizes_t *out) {
  size_t step_before = 0, huge_seen = 0;
  out->page = (size_t)sysconf(_SC_PAGESIZE);
  out->threshold = 0;
  out->nbounds = 0;
  size_t max = sizeof out->bounds / sizeof out->bounds[0];
  /* A debug build may report exactly the requested size as usable; then
   * usable sizes say nothing about classes, and the stats have to. */
  int exact = usable_for(1) == 1 && usable_for(17) == 17;
  for (size_t s = 1; s <= PROBE_LIMIT && out->nbounds < max;) {
    size_t u = exact ? class_end(s) : usable_for(s);
    if (u < s) /* broken usable_size; the harness reports it elsewhere */
      u = s;
    size_t prev = out->nbounds ? out->bounds[out->nbounds - 1] : 0;
    size_t step = u - prev;
    if (out->threshold == 0 && out->nbounds > 1 &&
        (step < step_before || step % 16 != 0))
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
