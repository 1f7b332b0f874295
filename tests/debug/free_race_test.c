/* The debug build's frees from several threads in a plain main, so that
 * they run under ThreadSanitizer too (`tools/test.sh --config=tsan
 * //tests/debug:free_race_test`), where Criterion can't start: two
 * threads allocate and free their own blocks and each other's (handed
 * through a shared table: each free of the other's block unlists it under
 * its owner's lock and quarantines it in the freeing thread's), while a
 * third checks and walks the heap and empties the quarantines. Prints
 * "N passed, N failed" last (tools/test_summary.py counts it). */
#include "segalloc.h"
#include "segalloc_debug.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SLOTS 4096
#define OWN 4096
#define OPS 20000

static _Atomic(void *) shared[SLOTS];
static atomic_bool stop;
static _Atomic int damaged; /* problems the concurrent checks found */

static void *churn(void *arg) {
  uint32_t seed = (uint32_t)(uintptr_t)arg;
  void *own[OWN] = {0};
  for (int i = 0; i < OPS; i++) {
    seed = seed * 1103515245u + 12345u;
    size_t size = 8 + (seed >> 16) % 600;
    void *p = segalloc_malloc(size);
    memset(p, 1, size);
    if ((seed >> 8) % 4 == 0) {
      void *old = atomic_exchange(&shared[(seed >> 10) % SLOTS], p);
      segalloc_free(old);
    } else {
      int k = (int)((seed >> 12) % OWN);
      segalloc_free(own[k]);
      own[k] = p;
    }
  }
  for (int k = 0; k < OWN; k++)
    segalloc_free(own[k]);
  return NULL;
}

static int count_block(void *p, size_t size, const void *site, void *ctx) {
  (void)p, (void)size, (void)site;
  ++*(size_t *)ctx;
  return 0;
}

static void *check(void *arg) {
  (void)arg;
  for (int n = 1; !atomic_load(&stop); n++) {
    damaged += segalloc_check_heap();
    size_t blocks = 0;
    segalloc_walk_heap(count_block, &blocks);
    if (n % 8 == 0)
      segalloc_flush_quarantine();
  }
  return NULL;
}

int main(void) {
  segalloc_stats_t start, end;
  segalloc_get_stats(&start);
  pthread_t threads[2], checker;
  pthread_create(&checker, NULL, check, NULL);
  for (int i = 0; i < 2; i++)
    pthread_create(&threads[i], NULL, churn, (void *)(uintptr_t)(i + 1));
  for (int i = 0; i < 2; i++)
    pthread_join(threads[i], NULL);
  atomic_store(&stop, true);
  pthread_join(checker, NULL);
  for (int i = 0; i < SLOTS; i++)
    segalloc_free(atomic_load(&shared[i]));
  size_t reports = segalloc_error_count();
  int problems = segalloc_check_now();
  segalloc_get_stats(&end);
  const struct {
    const char *name;
    bool ok;
  } results[] = {
      {"no damage seen while threads freed each other's blocks", damaged == 0},
      {"no report", reports == 0},
      {"the quarantines are whole", problems == 0},
      {"every block back", end.in_use_blocks == start.in_use_blocks},
  };
  size_t n = sizeof(results) / sizeof(results[0]), failed = 0;
  for (size_t i = 0; i < n; i++) {
    printf("%s %s\n", results[i].ok ? "PASS" : "FAIL", results[i].name);
    failed += !results[i].ok;
  }
  printf("%zu passed, %zu failed\n", n - failed, failed);
  return failed != 0;
}
