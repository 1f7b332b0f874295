/* Threads that exit while other threads free their blocks: the hand-over
 * of an exiting thread's segments (abandon) and their adoption by a thread
 * that frees into them. Its own target, so that a failure here names the
 * bug rather than hiding threads_test's other results. */
#include "tests/msg_queue.h"

/* A thread's exit abandons its segments while consumers are freeing
 * blocks into them (remote frees that may adopt a segment). Threads that
 * exit holding a block keep other segments abandoned meanwhile.
 *
 * Found by this test (reported; alloc/ is not ours): when
 * _sa_heap_abandon_segments (segment.c) set seg->heap = NULL before taking
 * _sa_segments_lock to put the segment on the abandoned list, a remote
 * free that saw NULL in that window adopted a segment not yet on the list
 * (abandoned_take unlinked it anyway, cutting the list); the exiting
 * thread then pushed it onto the abandoned list while the adopter owned
 * it. The lists got corrupted: blocks were never collected (in_use_blocks
 * stayed > 0 after all frees) and segments were released twice (SIGSEGV
 * in segment_release or in the heap walk). The walker thread only widens
 * the window by holding the lock; setting heap = NULL under the lock
 * fixes it. */
enum {
  EXIT_ROUNDS = 150,
  EXIT_PRODUCERS = 4,
  EXIT_BLOCKS = 100, /* per producer */
  EXIT_CONSUMERS = 2,
  EXIT_KEEPERS = 16,
};

typedef struct exit_race_s {
  queue_t queue;
  ledger_t ledger;
  _Atomic uint64_t next_id;
} exit_race_t;

static void *produce_and_exit(void *arg) {
  exit_race_t *x = arg;
  rng_t rng = rng_new(atomic_load(&x->next_id) + 11);
  for (int i = 0; i < EXIT_BLOCKS; i++) {
    msg_t *m = msg_new(atomic_fetch_add(&x->next_id, 1), msg_size(&rng) % 5000);
    if (m == NULL) {
      atomic_fetch_add(&x->ledger.failed_allocs, 1);
      continue;
    }
    queue_push(&x->queue, m);
  }
  return NULL;
}

static void *consume_blocks(void *arg) {
  exit_race_t *x = arg;
  msg_t *m;
  while ((m = queue_pop(&x->queue)) != NULL) {
    ledger_arrive(&x->ledger, m);
    segalloc_free(m);
  }
  return NULL;
}

/* Walks the heap over and over, as a monitoring thread would: the walk
 * holds the segment lock, so exiting threads wait for it right after
 * abandoning a segment, which widens any window in the hand-over. */
static atomic_bool stop_walking;
static void *walk_heap_loop(void *arg) {
  (void)arg;
  while (!atomic_load(&stop_walking)) {
    segalloc_stats_t s;
    segalloc_get_stats(&s);
  }
  return NULL;
}

static void *keep_one_block(void *arg) {
  *(void **)arg = segalloc_malloc(64);
  return NULL;
}

Test(abandon_race, exits_race_with_remote_frees) {
  segalloc_stats_t start = stats_now();
  static exit_race_t x;
  queue_init(&x.queue);
  ledger_init(&x.ledger, (uint64_t)EXIT_ROUNDS * EXIT_PRODUCERS * EXIT_BLOCKS);
  atomic_init(&x.next_id, 0);
  pthread_t consumers[EXIT_CONSUMERS];
  for (int i = 0; i < EXIT_CONSUMERS; i++)
    cr_assert_eq(pthread_create(&consumers[i], NULL, consume_blocks, &x), 0);
  pthread_t walker;
  cr_assert_eq(pthread_create(&walker, NULL, walk_heap_loop, NULL), 0);
  void *kept[EXIT_KEEPERS] = {0};
  for (int round = 0; round < EXIT_ROUNDS; round++) {
    pthread_t t[EXIT_PRODUCERS];
    if (round % (EXIT_ROUNDS / EXIT_KEEPERS) == 0 &&
        round / (EXIT_ROUNDS / EXIT_KEEPERS) < EXIT_KEEPERS) {
      pthread_t k;
      cr_assert_eq(pthread_create(&k, NULL, keep_one_block,
                                  &kept[round / (EXIT_ROUNDS / EXIT_KEEPERS)]),
                   0);
      cr_assert_eq(pthread_join(k, NULL), 0);
    }
    for (int i = 0; i < EXIT_PRODUCERS; i++)
      cr_assert_eq(pthread_create(&t[i], NULL, produce_and_exit, &x), 0);
    join_threads(t, EXIT_PRODUCERS);
  }
  queue_close(&x.queue);
  join_threads(consumers, EXIT_CONSUMERS);
  atomic_store(&stop_walking, true);
  cr_assert_eq(pthread_join(walker, NULL), 0);
  ledger_assert_complete(&x.ledger,
                         (uint64_t)EXIT_ROUNDS * EXIT_PRODUCERS * EXIT_BLOCKS);
  heap_assert_ok();
  for (int i = 0; i < EXIT_KEEPERS; i++) {
    cr_assert_not_null(kept[i]);
    segalloc_free(kept[i]);
  }
  heap_assert_ok();
  stats_assert_back_to(&start);
}

/* A thread exits while other threads free its last blocks, with the
 * segment cache full: the exit collects the blocks, releases the pages and
 * unmaps the segments (blocks of 100 KiB: a large page is a whole
 * segment). A remote free must touch nothing of the page, segment or heap
 * once its block is published (it used to read the page's full flag and
 * the segment's owner after that: under --config=tsan that is a reported
 * race with the page's release; without TSan, a crash when the segment is
 * already unmapped). */
enum { LAST_ROUNDS = 300, LAST_PAIRS = 6, LAST_SIZE = 100 * 1024 };

typedef struct last_pair_s {
  pthread_barrier_t *go;
  void *block;
} last_pair_t;

static void *own_then_exit(void *arg) {
  last_pair_t *p = arg;
  p->block = segalloc_malloc(LAST_SIZE);
  memset(p->block, 0x5a, LAST_SIZE);
  pthread_barrier_wait(p->go);
  return NULL; /* exits as the other thread frees its block */
}

static void *free_last_block(void *arg) {
  last_pair_t *p = arg;
  pthread_barrier_wait(p->go);
  segalloc_free(p->block);
  return NULL;
}

Test(abandon_race, exit_races_with_free_of_last_block, .timeout = 120) {
  segalloc_stats_t start = stats_now();
  /* Fill the segment cache: each large class has its own segment. */
  void *fill[8];
  for (int i = 0; i < 8; i++)
    cr_assert_not_null(fill[i] = segalloc_malloc((size_t)(80 + 40 * i) * KiB));
  for (int i = 0; i < 8; i++)
    segalloc_free(fill[i]);
  for (int round = 0; round < LAST_ROUNDS; round++) {
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2 * LAST_PAIRS);
    last_pair_t pairs[LAST_PAIRS];
    pthread_t owners[LAST_PAIRS], freers[LAST_PAIRS];
    for (int i = 0; i < LAST_PAIRS; i++) {
      pairs[i] = (last_pair_t){.go = &go, .block = NULL};
      cr_assert_eq(pthread_create(&owners[i], NULL, own_then_exit, &pairs[i]),
                   0);
      cr_assert_eq(pthread_create(&freers[i], NULL, free_last_block, &pairs[i]),
                   0);
    }
    join_threads(owners, LAST_PAIRS);
    join_threads(freers, LAST_PAIRS);
    pthread_barrier_destroy(&go);
  }
  heap_assert_ok();
  stats_assert_back_to(&start);
}
