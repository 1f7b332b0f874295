/* The heap walk and leak check of the debug build: segalloc_walk_heap
 * visits exactly the live blocks; segalloc_check_heap finds a damaged live
 * block, a quarantined block written after free, and damaged page
 * metadata; segalloc_leak_check lists what is still allocated. */
#include "tests/debug/capture.h"
#include "tests/test_util.h"

#include <pthread.h>
#include <stdatomic.h>

TestSuite(walk, .init = capture_start, .fini = capture_stop);

#define BLOCKS 300

typedef struct visit_s {
  void *ptrs[BLOCKS];
  size_t sizes[BLOCKS];
  bool seen[BLOCKS];
  const void *site;
  size_t others;
} visit_t;

static int match(void *ptr, size_t size, const void *site, void *ctx) {
  visit_t *v = ctx;
  for (int i = 0; i < BLOCKS; i++) {
    if (v->ptrs[i] == ptr) {
      cr_assert(!v->seen[i], "block %p visited twice", ptr);
      cr_assert_eq(size, v->sizes[i], "block %p: size %zu, expected %zu", ptr,
                   size, v->sizes[i]);
      cr_assert_not_null(site);
      if (v->site == NULL)
        v->site = site;
      cr_assert_eq(site, v->site, "one call site, two sites");
      v->seen[i] = true;
      return 0;
    }
  }
  v->others++;
  return 0;
}

static void *alloc_one(size_t size, int i) {
  void *p = NULL;
  if (i % 3 == 0)
    cr_assert_eq(segalloc_posix_memalign(&p, (size_t)64 << (i % 7), size), 0);
  else
    p = segalloc_malloc(size);
  return p;
}

Test(walk, visits_exactly_the_live_blocks) {
  static visit_t v;
  memset(&v, 0, sizeof(v));
  rng_t rng = rng_new(7);
  size_t base = segalloc_walk_heap(match, &v);
  for (int i = 0; i < BLOCKS; i++) {
    v.sizes[i] = rng_size(&rng, 5);
    v.ptrs[i] = segalloc_malloc(v.sizes[i]); /* one call site for all */
  }
  for (int i = 0; i < BLOCKS; i += 2) /* freed ones are not visited */
    segalloc_free(v.ptrs[i]), v.ptrs[i] = NULL;
  memset(v.seen, 0, sizeof(v.seen));
  v.others = 0;
  size_t visited = segalloc_walk_heap(match, &v);
  for (int i = 1; i < BLOCKS; i += 2)
    cr_assert(v.seen[i], "live block %d (%p) not visited", i, v.ptrs[i]);
  cr_assert_eq(visited, base + BLOCKS / 2);
  cr_assert_eq(v.others, base);
  for (int i = 1; i < BLOCKS; i += 2)
    segalloc_free(v.ptrs[i]);
  cr_assert_eq(segalloc_walk_heap(match, &v), base);
  cr_assert_eq(captured.count, 0);
}

static int stop_at_once(void *ptr, size_t size, const void *site, void *ctx) {
  (void)ptr, (void)size, (void)site;
  ++*(int *)ctx;
  return 1;
}

Test(walk, stops_when_the_visitor_says_so) {
  void *p = segalloc_malloc(10), *q = segalloc_malloc(10);
  int calls = 0;
  cr_assert_eq(segalloc_walk_heap(stop_at_once, &calls), 1);
  cr_assert_eq(calls, 1);
  segalloc_free(p);
  segalloc_free(q);
}

Test(walk, check_finds_a_damaged_live_block) {
  unsigned char *p = alloc_one(50, 3);
  unsigned char *q = segalloc_malloc(50);
  cr_assert_eq(segalloc_check_heap(), 0);
  unsigned char saved = p[52];
  p[52] = (unsigned char)~saved;
  cr_assert_geq(segalloc_check_heap(), 1);
  cr_assert_eq(captured.errors[0].kind, SEGALLOC_ERR_HEAP_BUFFER_OVERFLOW);
  cr_assert_eq(captured.errors[0].address, p + 52);
  p[52] = saved;
  captured.count = 0;
  unsigned char header = q[-40];
  q[-40] = (unsigned char)~header;
  cr_assert_geq(segalloc_check_heap(), 1);
  cr_assert_eq(captured.errors[0].kind, SEGALLOC_ERR_HEAP_CORRUPTION);
  q[-40] = header;
  captured.count = 0;
  cr_assert_eq(segalloc_check_heap(), 0, "repaired, the heap is whole");
  segalloc_free(p);
  segalloc_free(q);
  cr_assert_eq(captured.count, 0);
}

/* The 64-byte header before p (debug/src/debug.h): bytes 0-7 the
 * allocation's backtrace and thread (not sealed), 8-47 the sealed fields,
 * 48-55 the seal, 56-63 the canary. Flips each bit of bytes 8-63 in turn:
 * the check must see each one, as an underflow in the canary, else as
 * heap-corruption. */
static void assert_every_header_bit_seen(unsigned char *p) {
  unsigned char *header = p - 64;
  for (int byte = 8; byte < 64; byte++) {
    for (int bit = 0; bit < 8; bit++) {
      captured.count = 0;
      header[byte] ^= (unsigned char)(1u << bit);
      int problems = segalloc_check_heap();
      header[byte] ^= (unsigned char)(1u << bit);
      cr_assert_geq(problems, 1, "byte %d bit %d of the header", byte, bit);
      cr_assert_eq(captured.errors[0].kind,
                   byte >= 56 ? SEGALLOC_ERR_HEAP_BUFFER_UNDERFLOW
                              : SEGALLOC_ERR_HEAP_CORRUPTION,
                   "byte %d bit %d of the header", byte, bit);
    }
  }
  captured.count = 0;
  cr_assert_eq(segalloc_check_heap(), 0, "repaired, the heap is whole");
}

Test(walk, check_sees_every_bit_of_a_header) {
  unsigned char *live = segalloc_malloc(50);
  unsigned char *freed = segalloc_malloc(70);
  segalloc_free(freed); /* quarantined: the free's fields set and sealed */
  cr_assert_eq(segalloc_check_heap(), 0);
  assert_every_header_bit_seen(live);
  assert_every_header_bit_seen(freed);
  segalloc_free(live);
  cr_assert_eq(captured.count, 0);
}

/* Headers overwritten whole (but for the first 8 bytes) by a fixed pattern
 * or by another live block's header: none passes for a header. */
Test(walk, check_sees_a_header_forged_from_a_pattern) {
  unsigned char *p = segalloc_malloc(40), *q = segalloc_malloc(40);
  unsigned char saved[56];
  memcpy(saved, p - 56, sizeof(saved));
  static const int patterns[] = {0x00, 0xff, 0xfd, 0xa5, -1};
  for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
    captured.count = 0;
    if (patterns[i] >= 0)
      memset(p - 56, patterns[i], sizeof(saved));
    else
      memcpy(p - 56, q - 56, sizeof(saved));
    int problems = segalloc_check_heap();
    memcpy(p - 56, saved, sizeof(saved));
    cr_assert_geq(problems, 1, "pattern %d passed", patterns[i]);
    cr_assert_eq(captured.errors[0].kind, SEGALLOC_ERR_HEAP_BUFFER_UNDERFLOW,
                 "pattern %d: the canary is hit", patterns[i]);
  }
  captured.count = 0;
  cr_assert_eq(segalloc_check_heap(), 0, "repaired, the heap is whole");
  segalloc_free(p);
  segalloc_free(q);
  cr_assert_eq(captured.count, 0);
}

Test(walk, check_finds_a_quarantined_block_written_after_free) {
  unsigned char *p = segalloc_malloc(2000);
  segalloc_free(p);
  cr_assert_eq(segalloc_check_heap(), 0);
  p[1999] = 'x';
  cr_assert_geq(segalloc_check_heap(), 1);
  cr_assert_eq(captured.errors[0].kind, SEGALLOC_ERR_USE_AFTER_FREE);
  cr_assert_eq(captured.errors[0].address, p + 1999);
  p[1999] = 0xfd; /* the poison again: nothing left to find */
  captured.count = 0;
  cr_assert_eq(segalloc_check_heap(), 0);
  segalloc_flush_quarantine();
  cr_assert_eq(captured.count, 0);
}

/* Corrupts the core's free list through a released block (a late write
 * after free), then checks: in a child, whose heap is thrown away. */
static void damage_page_metadata(void *arg) {
  (void)arg;
  segalloc_set_error_handler(NULL, NULL);
  unsigned char *p = segalloc_malloc(100);
  segalloc_free(p);
  segalloc_flush_quarantine();
  /* The core block starts 64 bytes (the debug header) before the user
   * bytes; its first word is the free-list link now. */
  memset(p - 64, 0x41, 8);
  _exit(segalloc_check_heap() > 0 ? 0 : 1);
}

Test(walk, check_finds_damaged_page_metadata) {
  death_result_t r;
  death_run(damage_page_metadata, NULL, &r);
  cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0,
            "check_heap missed the damage: status 0x%x, stderr:\n%s", r.status,
            r.output);
  cr_assert(strstr(r.output, "segalloc: check: page") != NULL,
            "no page problem reported:\n%s", r.output);
}

static int count_block(void *ptr, size_t size, const void *site, void *ctx) {
  (void)ptr, (void)size, (void)site;
  ++*(size_t *)ctx;
  return 0;
}

typedef struct leaks_s {
  size_t count;
  const void *blocks[4];
} leaks_t;

static void record_leak(const segalloc_error_t *err, void *ctx) {
  leaks_t *l = ctx;
  cr_assert_eq(err->kind, SEGALLOC_ERR_LEAK);
  if (l->count < 4)
    l->blocks[l->count] = err->block;
  l->count++;
}

Test(walk, leak_check_lists_every_live_block) {
  size_t live = 0;
  segalloc_walk_heap(count_block, &live);
  cr_assert_eq(live, 0, "the test starts with no live block");
  leaks_t leaks = {0};
  segalloc_set_error_handler(record_leak, &leaks);
  cr_assert_eq(segalloc_leak_check(), 0);
  void *a = segalloc_malloc(1), *b = segalloc_calloc(3, 100);
  segalloc_free(segalloc_malloc(5)); /* freed: no leak */
  cr_assert_eq(segalloc_leak_check(), 2);
  cr_assert_eq(leaks.count, 2);
  cr_assert((leaks.blocks[0] == a && leaks.blocks[1] == b) ||
            (leaks.blocks[0] == b && leaks.blocks[1] == a));
  segalloc_free(a);
  segalloc_free(b);
  leaks.count = 0;
  cr_assert_eq(segalloc_leak_check(), 0);
  cr_assert_eq(leaks.count, 0);
}

/* ---- walks and checks while other threads allocate and free ---- */

#define THREADS 3
#define SLOTS 512

static _Atomic(void *) shared[SLOTS];
static _Atomic bool stop;
static atomic_size_t mallocs_started;

static void *churn(void *arg) {
  rng_t rng = rng_new((uint64_t)(uintptr_t)arg);
  while (!atomic_load(&stop)) {
    size_t i = rng_below(&rng, SLOTS);
    size_t size = rng_size(&rng, 0);
    atomic_fetch_add(&mallocs_started, 1);
    void *fresh = segalloc_malloc(size);
    cr_assert_not_null(fresh);
    memset(fresh, (int)i, size);
    /* Frees whatever another thread left in the slot: remote frees. */
    segalloc_free(atomic_exchange(&shared[i], fresh));
  }
  return NULL;
}

/* The walk visits one thread's table at a time, so it is no snapshot: a
 * block seen in one table may be freed and replaced by a block in a table
 * visited later. So the bound on the count is the blocks live when the
 * walk starts (at most one in flight per thread beside the slots and the
 * pinned ones) plus those allocated during the walk; the pinned blocks,
 * live throughout, are each visited exactly once. */
Test(walk, concurrent_with_allocating_threads, .timeout = 60) {
  static visit_t v;
  memset(&v, 0, sizeof(v));
  rng_t rng = rng_new(11);
  for (int i = 0; i < BLOCKS; i++) {
    v.sizes[i] = rng_size(&rng, 3);
    v.ptrs[i] = segalloc_malloc(v.sizes[i]); /* one call site for all */
  }
  pthread_t threads[THREADS];
  atomic_store(&stop, false);
  for (uintptr_t t = 0; t < THREADS; t++)
    cr_assert_eq(pthread_create(&threads[t], NULL, churn, (void *)(t + 1)), 0);
  for (int round = 0; round < 200; round++) {
    cr_assert_eq(segalloc_check_heap(), 0);
    memset(v.seen, 0, sizeof(v.seen));
    v.others = 0;
    size_t before = atomic_load(&mallocs_started);
    size_t n = segalloc_walk_heap(match, &v);
    size_t during = atomic_load(&mallocs_started) - before;
    for (int i = 0; i < BLOCKS; i++)
      cr_assert(v.seen[i], "pinned block %d (%p) not visited", i, v.ptrs[i]);
    cr_assert_eq(n, BLOCKS + v.others);
    cr_assert_leq(v.others, SLOTS + THREADS + during);
    if (round % 50 == 0)
      segalloc_flush_quarantine();
  }
  atomic_store(&stop, true);
  for (int t = 0; t < THREADS; t++)
    pthread_join(threads[t], NULL);
  for (int i = 0; i < SLOTS; i++)
    segalloc_free(atomic_exchange(&shared[i], NULL));
  for (int i = 0; i < BLOCKS; i++)
    segalloc_free(v.ptrs[i]);
  cr_assert_eq(captured.count, 0, "false report: %s at %p",
               segalloc_error_kind_name(captured.errors[0].kind),
               captured.errors[0].address);
  heap_assert_ok();
  size_t n = 0;
  segalloc_walk_heap(count_block, &n);
  cr_assert_eq(n, 0);
}
