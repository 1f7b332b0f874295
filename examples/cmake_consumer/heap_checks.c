/* See heap_checks.h. Criterion and its libraries allocate through the same
 * malloc (the drop-in) before the test body runs and keep those blocks
 * (about 3000), so the test's leaks are the blocks live at its end that
 * were not live at its start; segalloc_leak_check() would report every
 * one of them. Blocks are told apart by address: a leak that reuses the
 * address of a block freed during the test is missed (the quarantine makes
 * such reuse late). Fixed arrays: nothing here may allocate during a heap
 * walk. */
#define _GNU_SOURCE
#include "heap_checks.h"

#include <dlfcn.h>
#include <segalloc_debug.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

enum { MAX_BASELINE = 1 << 16, MAX_SHOWN = 16 };

static uintptr_t baseline[MAX_BASELINE];
static size_t baseline_len;

typedef struct leak_s {
  const void *ptr, *site;
  size_t size;
} leak_t;

typedef struct leaks_s {
  leak_t shown[MAX_SHOWN];
  size_t count, bytes;
} leaks_t;

static int remember(void *ptr, size_t size, const void *site, void *ctx) {
  (void)size, (void)site, (void)ctx;
  if (baseline_len == MAX_BASELINE)
    return 1;
  baseline[baseline_len++] = (uintptr_t)ptr;
  return 0;
}

static int cmp_uintptr(const void *a, const void *b) {
  uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
  return (x > y) - (x < y);
}

static int collect_new(void *ptr, size_t size, const void *site, void *ctx) {
  leaks_t *leaks = ctx;
  uintptr_t key = (uintptr_t)ptr;
  if (bsearch(&key, baseline, baseline_len, sizeof key, cmp_uintptr) != NULL)
    return 0;
  if (leaks->count < MAX_SHOWN)
    leaks->shown[leaks->count] = (leak_t){ptr, site, size};
  leaks->count++;
  leaks->bytes += size;
  return 0;
}

void heap_checks_begin(void) {
  baseline_len = 0;
  segalloc_walk_heap(remember, NULL);
  cr_assert_lt(baseline_len, MAX_BASELINE, "more live blocks than %d",
               MAX_BASELINE);
  qsort(baseline, baseline_len, sizeof baseline[0], cmp_uintptr);
}

void heap_checks_end(void) {
  /* With SEGALLOC_ON_ERROR=abort (the default) the first problem prints
   * its report and aborts: Criterion counts the test as crashed. */
  cr_assert_eq(segalloc_check_now(), 0, "the heap is damaged");

  leaks_t leaks = {0};
  segalloc_walk_heap(collect_new, &leaks);
  for (size_t i = 0; i < leaks.count && i < MAX_SHOWN; i++) {
    const leak_t *l = &leaks.shown[i];
    Dl_info info;
    if (dladdr(l->site, &info) == 0 || info.dli_fname == NULL) {
      cr_log_error("leak: %zu-byte block at %p allocated at %p", l->size,
                   l->ptr, l->site);
      continue;
    }
    /* (module+offset) of the allocating call, for addr2line. The main
     * program's name is its argv[0], which Criterion's worker changes. */
    char exe[4096];
    const char *module = info.dli_fname;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (module[0] != '/' && n > 0) {
      exe[n] = '\0';
      module = exe;
    }
    cr_log_error("leak: %zu-byte block at %p allocated at (%s+%#tx)", l->size,
                 l->ptr, module,
                 (const char *)l->site - (const char *)info.dli_fbase);
  }
  cr_assert_eq(leaks.count, 0, "%zu block(s), %zu bytes, leaked by the test",
               leaks.count, leaks.bytes);
}
