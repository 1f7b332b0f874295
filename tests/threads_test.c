/* Real threads: independent churn, a producer handing blocks to consumers
 * that free them (cross-thread frees), a ring passing blocks around, and
 * threads exiting with live blocks. Each block carries an id and a pattern,
 * so a block lost, duplicated or damaged on the way shows. */
#include "tests/msg_queue.h"

/* ---- 1: independent churn on every thread ---- */
enum { CHURN_SLOTS = 256, CHURN_OPS = 20000 };

typedef struct churn_arg_s {
  uint64_t seed;
  _Atomic uint64_t *errors;
} churn_arg_t;

static void *churn(void *arg) {
  churn_arg_t *a = arg;
  rng_t rng = rng_new(a->seed);
  static _Thread_local msg_t *slot[CHURN_SLOTS];
  uint64_t id = a->seed << 32;
  for (int op = 0; op < CHURN_OPS; op++) {
    msg_t **s = &slot[rng_below(&rng, CHURN_SLOTS)];
    if (*s == NULL) {
      *s = msg_new(id++, msg_size(&rng));
      if (*s == NULL)
        atomic_fetch_add(a->errors, 1);
      continue;
    }
    if (!msg_ok(*s))
      atomic_fetch_add(a->errors, 1);
    if (rng_below(&rng, 3) == 0) {
      size_t size = msg_size(&rng);
      msg_t *m = segalloc_realloc(*s, sizeof(msg_t) + size);
      if (m == NULL) {
        atomic_fetch_add(a->errors, 1);
        continue;
      }
      if (!msg_resized(m, size))
        atomic_fetch_add(a->errors, 1);
      *s = m;
    } else {
      segalloc_free(*s);
      *s = NULL;
    }
  }
  for (int i = 0; i < CHURN_SLOTS; i++) {
    if (slot[i] != NULL && !msg_ok(slot[i]))
      atomic_fetch_add(a->errors, 1);
    segalloc_free(slot[i]);
    slot[i] = NULL;
  }
  return NULL;
}

Test(threads, independent_churn) {
  segalloc_stats_t start = stats_now();
  _Atomic uint64_t errors = 0;
  churn_arg_t args[THREADS];
  for (int i = 0; i < THREADS; i++)
    args[i] = (churn_arg_t){.seed = (uint64_t)i + 1, .errors = &errors};
  pthread_t t[THREADS];
  start_threads(t, THREADS, churn, args, sizeof(args[0]));
  join_threads(t, THREADS);
  cr_assert_eq(atomic_load(&errors), 0,
               "%lu blocks damaged or allocations failed",
               (unsigned long)atomic_load(&errors));
  heap_assert_ok();
  stats_assert_back_to(&start);
}

/* ---- 2: one producer, the other threads consume and free ---- */
enum { PRODUCED = 200000 };

typedef struct pc_s {
  queue_t queue;
  ledger_t ledger;
} pc_t;

static void *producer(void *arg) {
  pc_t *pc = arg;
  rng_t rng = rng_new(77);
  for (uint64_t id = 0; id < PRODUCED; id++) {
    msg_t *m = msg_new(id, msg_size(&rng) % (16 * KiB));
    if (m == NULL) {
      atomic_fetch_add(&pc->ledger.failed_allocs, 1);
      continue;
    }
    queue_push(&pc->queue, m);
    /* Don't let the queue grow without bound when consumers lag. */
    while (queue_length(&pc->queue) > 20000)
      sched_yield();
  }
  queue_close(&pc->queue);
  return NULL;
}

static void *consumer(void *arg) {
  pc_t *pc = arg;
  msg_t *m;
  while ((m = queue_pop(&pc->queue)) != NULL) {
    ledger_arrive(&pc->ledger, m);
    segalloc_free(m); /* a remote free: the producer owns the page */
  }
  return NULL;
}

Test(threads, producer_consumers_cross_thread_free) {
  segalloc_stats_t start = stats_now();
  static pc_t pc;
  queue_init(&pc.queue);
  ledger_init(&pc.ledger, PRODUCED);
  pthread_t t[THREADS];
  cr_assert_eq(pthread_create(&t[0], NULL, producer, &pc), 0);
  for (int i = 1; i < THREADS; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, consumer, &pc), 0);
  join_threads(t, THREADS);
  ledger_assert_complete(&pc.ledger, PRODUCED);
  heap_assert_ok();
  stats_assert_back_to(&start);
}

/* ---- 2b: blocks grown by realloc in small steps (in place while alone
 * at the start of their page: the page changes class), then handed to
 * other threads that grow them again (they don't own the page: a move)
 * and free them, while the owner keeps growing the next ones ---- */
enum { GROWN = 3000, GROW_STEPS = 40, GROWN_MAX = 64 * KiB };

static void *grower(void *arg) {
  pc_t *pc = arg;
  for (uint64_t id = 0; id < GROWN; id++) {
    msg_t *m = msg_new(id, 16);
    for (size_t step = 1; m != NULL && step <= GROW_STEPS; step++) {
      size_t size = 16 + (GROWN_MAX - 16) * step / GROW_STEPS;
      msg_t *r = segalloc_realloc(m, sizeof(msg_t) + size);
      if (r == NULL || !msg_resized(r, size))
        atomic_fetch_add(&pc->ledger.damaged, 1);
      m = r != NULL ? r : m;
    }
    if (m == NULL) {
      atomic_fetch_add(&pc->ledger.failed_allocs, 1);
      continue;
    }
    queue_push(&pc->queue, m);
    while (queue_length(&pc->queue) > 64)
      sched_yield();
  }
  queue_close(&pc->queue);
  return NULL;
}

static void *regrower(void *arg) {
  pc_t *pc = arg;
  msg_t *m;
  while ((m = queue_pop(&pc->queue)) != NULL) {
    size_t size = m->size + 5000;
    msg_t *r = segalloc_realloc(m, sizeof(msg_t) + size);
    if (r == NULL || !msg_resized(r, size))
      atomic_fetch_add(&pc->ledger.damaged, 1);
    m = r != NULL ? r : m;
    ledger_arrive(&pc->ledger, m);
    segalloc_free(m);
  }
  return NULL;
}

Test(threads, realloc_grown_blocks_handed_to_other_threads) {
  segalloc_stats_t start = stats_now();
  static pc_t pc;
  queue_init(&pc.queue);
  ledger_init(&pc.ledger, GROWN);
  pthread_t t[THREADS];
  cr_assert_eq(pthread_create(&t[0], NULL, grower, &pc), 0);
  for (int i = 1; i < THREADS; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, regrower, &pc), 0);
  join_threads(t, THREADS);
  ledger_assert_complete(&pc.ledger, GROWN);
  heap_assert_ok();
  stats_assert_back_to(&start);
}

/* ---- 3: a ring: each thread takes blocks from its inbox and passes them
 * on, resized or replaced by a copy, until they have gone round ---- */
enum { RING_BLOCKS = 2000, RING_HOPS = 3 * THREADS };

typedef struct ring_s {
  queue_t inbox[THREADS];
  ledger_t ledger;
  _Atomic uint64_t retired;
} ring_t;

/* A block left the ring; the last one closes every inbox. */
static void ring_retire(ring_t *ring) {
  if (atomic_fetch_add(&ring->retired, 1) + 1 == RING_BLOCKS)
    for (int i = 0; i < THREADS; i++)
      queue_close(&ring->inbox[i]);
}

typedef struct ring_arg_s {
  ring_t *ring;
  int index;
} ring_arg_t;

static void *ring_member(void *arg) {
  ring_arg_t *a = arg;
  ring_t *ring = a->ring;
  rng_t rng = rng_new((uint64_t)a->index + 1000);
  queue_t *next = &ring->inbox[(a->index + 1) % THREADS];
  /* Each member starts its share of the blocks. */
  for (uint64_t id = (uint64_t)a->index; id < RING_BLOCKS; id += THREADS) {
    msg_t *m = msg_new(id, msg_size(&rng) % (200 * KiB));
    if (m == NULL) {
      atomic_fetch_add(&ring->ledger.failed_allocs, 1);
      ring_retire(ring);
      continue;
    }
    queue_push(next, m);
  }
  msg_t *m;
  while ((m = queue_pop(&ring->inbox[a->index])) != NULL) {
    if (!msg_ok(m))
      atomic_fetch_add(&ring->ledger.damaged, 1);
    if (++m->hops == RING_HOPS) {
      ledger_arrive(&ring->ledger, m);
      segalloc_free(m);
      ring_retire(ring);
      continue;
    }
    size_t size = msg_size(&rng) % (200 * KiB);
    if (rng_below(&rng, 2) == 0) {
      /* Resize a block another thread allocated. */
      msg_t *r = segalloc_realloc(m, sizeof(msg_t) + size);
      if (r == NULL) {
        atomic_fetch_add(&ring->ledger.failed_allocs, 1);
        r = m;
      } else {
        if (!msg_resized(r, size))
          atomic_fetch_add(&ring->ledger.damaged, 1);
      }
      m = r;
    } else {
      /* Replace it by a fresh copy, freeing the old one here. */
      msg_t *c = msg_new(m->id, size);
      if (c == NULL) {
        atomic_fetch_add(&ring->ledger.failed_allocs, 1);
      } else {
        c->hops = m->hops;
        segalloc_free(m);
        m = c;
      }
    }
    queue_push(next, m);
  }
  return NULL;
}

Test(threads, ring_passes_blocks_around) {
  segalloc_stats_t start = stats_now();
  static ring_t ring;
  for (int i = 0; i < THREADS; i++)
    queue_init(&ring.inbox[i]);
  ledger_init(&ring.ledger, RING_BLOCKS);
  atomic_init(&ring.retired, 0);
  ring_arg_t args[THREADS];
  for (int i = 0; i < THREADS; i++)
    args[i] = (ring_arg_t){.ring = &ring, .index = i};
  pthread_t t[THREADS];
  start_threads(t, THREADS, ring_member, args, sizeof(args[0]));
  join_threads(t, THREADS);
  ledger_assert_complete(&ring.ledger, RING_BLOCKS);
  heap_assert_ok();
  stats_assert_back_to(&start);
}

/* ---- 4: threads exit with live blocks; others free them later ---- */
enum { ORPHANS_PER_THREAD = 3000 };

typedef struct orphan_arg_s {
  uint64_t first_id;
  msg_t **out; /* ORPHANS_PER_THREAD blocks left behind */
} orphan_arg_t;

static void *leave_blocks(void *arg) {
  orphan_arg_t *a = arg;
  rng_t rng = rng_new(a->first_id + 5);
  for (int i = 0; i < ORPHANS_PER_THREAD; i++) {
    a->out[i] =
        msg_new(a->first_id + (uint64_t)i, msg_size(&rng) % (300 * KiB));
    /* Some churn, so the exiting heap has free blocks as well. */
    segalloc_free(segalloc_malloc(rng_size(&rng, 0)));
  }
  return NULL;
}

typedef struct free_arg_s {
  msg_t **blocks;
  size_t count;
  ledger_t *ledger;
} free_arg_t;

static void *free_blocks(void *arg) {
  free_arg_t *a = arg;
  for (size_t i = 0; i < a->count; i++) {
    ledger_arrive(a->ledger, a->blocks[i]);
    segalloc_free(a->blocks[i]);
  }
  /* And allocate from what it adopted. */
  for (int i = 0; i < 1000; i++)
    segalloc_free(segalloc_malloc((size_t)i * 8));
  return NULL;
}

Test(threads, exited_threads_blocks_freed_later) {
  segalloc_stats_t start = stats_now();
  enum { N = THREADS * ORPHANS_PER_THREAD };
  static msg_t *blocks[N];
  orphan_arg_t args[THREADS];
  for (int i = 0; i < THREADS; i++)
    args[i] = (orphan_arg_t){.first_id = (uint64_t)i * ORPHANS_PER_THREAD,
                             .out = &blocks[i * ORPHANS_PER_THREAD]};
  pthread_t t[THREADS];
  start_threads(t, THREADS, leave_blocks, args, sizeof(args[0]));
  join_threads(t, THREADS);
  for (int i = 0; i < N; i++)
    cr_assert_not_null(blocks[i]);
  /* Their memory is ours to check now. */
  heap_assert_ok();
  segalloc_stats_t held = stats_now();
  cr_assert_geq(held.in_use_blocks, start.in_use_blocks + N);

  ledger_t ledger;
  ledger_init(&ledger, N);
  /* Half freed by the main thread, half by two fresh threads. */
  free_arg_t main_part = {blocks, N / 2, &ledger};
  free_blocks(&main_part);
  free_arg_t parts[2] = {{&blocks[N / 2], N / 4, &ledger},
                         {&blocks[N / 2 + N / 4], N - N / 2 - N / 4, &ledger}};
  start_threads(t, 2, free_blocks, parts, sizeof(parts[0]));
  join_threads(t, 2);
  ledger_assert_complete(&ledger, N);
  heap_assert_ok();
  stats_assert_back_to(&start);
}

/* Many short-lived threads: heaps are recycled; blocks outlive them. */
static void *short_life(void *arg) {
  msg_t **out = arg;
  *out = msg_new((uint64_t)(uintptr_t)out % 100000, 100);
  return NULL;
}

Test(threads, many_short_lived_threads) {
  segalloc_stats_t start = stats_now();
  enum { N = 400 };
  static msg_t *blocks[N];
  for (int round = 0; round < N / THREADS; round++) {
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
      cr_assert_eq(
          pthread_create(&t[i], NULL, short_life, &blocks[round * THREADS + i]),
          0);
    join_threads(t, THREADS);
  }
  for (int i = 0; i < N; i++) {
    cr_assert_not_null(blocks[i]);
    cr_assert(msg_ok(blocks[i]));
    segalloc_free(blocks[i]);
  }
  heap_assert_ok();
  stats_assert_back_to(&start);
}

/* ---- 5: the heap check and stats while other threads allocate ----
 * segalloc.h: segments of other live threads are checked only for what
 * can't change under the walk, so a correct heap reports no problem even
 * while they run (and the stats stay plausible). */
typedef struct checker_s {
  atomic_bool stop;
  _Atomic uint64_t problems, walks;
} checker_t;

static void *check_heap_loop(void *arg) {
  checker_t *c = arg;
  /* This thread allocates too, so it has a heap of its own. */
  void *mine = segalloc_malloc(100);
  while (!atomic_load(&c->stop)) {
    int problems = segalloc_check_heap();
    segalloc_stats_t s;
    segalloc_get_stats(&s);
    if (problems != 0 || s.in_use_blocks == 0 || s.mapped_bytes == 0)
      atomic_fetch_add(&c->problems, 1);
    atomic_fetch_add(&c->walks, 1);
  }
  segalloc_free(mine);
  return NULL;
}

Test(threads, check_heap_while_threads_allocate) {
  segalloc_stats_t start = stats_now();
  static checker_t checker;
  pthread_t check_thread;
  cr_assert_eq(pthread_create(&check_thread, NULL, check_heap_loop, &checker),
               0);
  /* Independent churn and producer/consumer traffic at the same time. */
  _Atomic uint64_t errors = 0;
  churn_arg_t args[4];
  for (int i = 0; i < 4; i++)
    args[i] = (churn_arg_t){.seed = (uint64_t)i + 50, .errors = &errors};
  pthread_t t[4];
  start_threads(t, 4, churn, args, sizeof(args[0]));
  join_threads(t, 4);
  atomic_store(&checker.stop, true);
  cr_assert_eq(pthread_join(check_thread, NULL), 0);
  cr_assert_eq(atomic_load(&errors), 0);
  cr_assert_gt(atomic_load(&checker.walks), 0);
  cr_assert_eq(atomic_load(&checker.problems), 0,
               "%lu of %lu concurrent heap walks reported problems",
               (unsigned long)atomic_load(&checker.problems),
               (unsigned long)atomic_load(&checker.walks));
  heap_assert_ok();
  stats_assert_back_to(&start);
}

/* ---- 5b: a segment given back, then taken by another thread ----
 * The free fast path trusts the segments a heap remembers as its own
 * (heap->own_chunks): a heap that gives a segment back must forget it, or
 * its frees of the new owner's blocks would be taken for local ones. */
enum {
  GIVEN_BACK_SIZE = 100000,
  GIVEN_BACK_MAX = 100
}; /* a large class:
     a segment a page */

static void *take_segment(void *arg) {
  void **blocks = arg;
  blocks[0] = segalloc_malloc(GIVEN_BACK_SIZE);
  blocks[1] = segalloc_malloc(GIVEN_BACK_SIZE);
  return NULL;
}

static bool same_segment(const void *a, const void *b) {
  return (uintptr_t)a >> 22 == (uintptr_t)b >> 22;
}

Test(threads, segment_given_back_is_forgotten) {
  /* Blocks until one lands in a second segment: the first page then
   * isn't its class's only one, and goes back when it empties. */
  void *blocks[GIVEN_BACK_MAX];
  int n = 0;
  do {
    cr_assert_lt(n, GIVEN_BACK_MAX);
    blocks[n] = segalloc_malloc(GIVEN_BACK_SIZE);
    cr_assert_not_null(blocks[n]);
  } while (same_segment(blocks[n++], blocks[0]));
  uintptr_t first = (uintptr_t)blocks[0];
  for (int i = 0; i < n - 1; i++) /* the first segment empties */
    segalloc_free(blocks[i]);
  void *taken[2];
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, take_segment, taken), 0);
  cr_assert_eq(pthread_join(t, NULL), 0); /* its heap is abandoned */
  cr_assert(taken[0] != NULL && taken[1] != NULL);
  /* (In the debug build the quarantine keeps the blocks in use.) */
  cr_assert(SEGALLOC_TEST_DEBUG || same_segment(taken[0], (void *)first),
            "the thread did not take the segment given back");
  heap_assert_ok();        /* own_chunks names no segment of another heap */
  segalloc_free(taken[0]); /* an abandoned segment: adopted */
  segalloc_free(taken[1]);
  segalloc_free(blocks[n - 1]);
  heap_assert_ok();
}

/* ---- 6: allocation in a thread-specific-data destructor ----
 * A key destructor may run after segalloc's own one has handed the
 * thread's heap back; allocating and freeing there must still work, and a
 * block it leaves behind must be freeable later. */
static pthread_key_t late_key;
static void *late_block;

static void late_destructor(void *value) {
  (void)value;
  void *scratch = segalloc_malloc(200);
  if (scratch != NULL)
    pattern_fill(scratch, 200, 1);
  segalloc_free(scratch);
  late_block = segalloc_malloc(300);
  if (late_block != NULL)
    pattern_fill(late_block, 300, 2);
}

static void *use_late_key(void *arg) {
  (void)arg;
  pthread_setspecific(late_key, (void *)1);
  segalloc_free(segalloc_malloc(100)); /* segalloc's key exists now */
  return NULL;
}

Test(threads, allocation_in_thread_exit_destructor) {
  /* segalloc makes its key on first use: before ours, so its destructor
   * runs first (glibc runs them in key order) and ours allocates after. */
  segalloc_free(segalloc_malloc(1));
  segalloc_stats_t start = stats_now();
  for (int round = 0; round < 20; round++) {
    cr_assert_eq(pthread_key_create(&late_key, late_destructor), 0);
    pthread_t t;
    late_block = NULL;
    cr_assert_eq(pthread_create(&t, NULL, use_late_key, NULL), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    cr_assert_not_null(late_block);
    pattern_assert(late_block, 300, 300, 2);
    segalloc_free(late_block);
    pthread_key_delete(late_key);
  }
  heap_assert_ok();
  stats_assert_back_to(&start);
}
