/* Threads that exit while other threads free their blocks: the hand-over
 * of an exiting thread's segments (abandon) and their adoption by a thread
 * that frees into them. Its own target, so that a failure here names the
 * bug rather than hiding threads_test's other results. */
#include "tests/msg_queue.h"
#include "tests/race_scenarios.h"

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

/* Owners exit while other threads free their last blocks, with the
 * segment cache full (tests/race_scenarios.h). */
Test(abandon_race, exit_races_with_free_of_last_block, .timeout = 120) {
  segalloc_stats_t start = stats_now();
  cr_assert_eq(race_last_block_exits(300), 0, "blocks damaged");
  heap_assert_ok();
  stats_assert_back_to(&start);
}

/* Remote frees into full pages of owners that keep allocating, then exit
 * (tests/race_scenarios.h). */
Test(abandon_race, remote_frees_into_full_pages, .timeout = 120) {
  segalloc_stats_t start = stats_now();
  cr_assert_eq(race_full_page_handoffs(4), 0, "blocks damaged");
  heap_assert_ok();
  stats_assert_back_to(&start);
}
