/* Threads passing blocks around: blocks with an identity and a pattern
 * (msg_t), a blocking queue, and a ledger that checks every block arrived
 * exactly once, intact. Shared by threads_test.c and abandon_race_test.c. */
#ifndef SEGALLOC_TESTS_MSG_QUEUE_H
#define SEGALLOC_TESTS_MSG_QUEUE_H

#include "tests/test_util.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

enum { THREADS = 8 };

static inline void start_threads(pthread_t *t, int n, void *(*fn)(void *),
                                 void *args, size_t arg_size) {
  for (int i = 0; i < n; i++)
    cr_assert_eq(
        pthread_create(&t[i], NULL, fn, (char *)args + (size_t)i * arg_size),
        0);
}

static inline void join_threads(pthread_t *t, int n) {
  for (int i = 0; i < n; i++)
    cr_assert_eq(pthread_join(t[i], NULL), 0);
}

/* ---- a block with an identity ---- */
/* The header is followed by `size` patterned bytes (seeded by the id). */
typedef struct msg_s {
  struct msg_s *next; /* queue link */
  uint64_t id;
  size_t size;
  uint32_t hops;
} msg_t;

static inline msg_t *msg_new(uint64_t id, size_t size) {
  msg_t *m = segalloc_malloc(sizeof(msg_t) + size);
  if (m == NULL)
    return NULL;
  m->next = NULL;
  m->id = id;
  m->size = size;
  m->hops = 0;
  pattern_fill(m + 1, size, (uint32_t)id);
  return m;
}

/* Checks without Criterion asserts (not thread-safe in every version):
 * returns false when the block is damaged. */
static inline bool msg_prefix_ok(const msg_t *m, size_t limit) {
  return pattern_apply((uint8_t *)(m + 1), m->size, limit, (uint32_t)m->id,
                       false) == SIZE_MAX;
}

static inline bool msg_ok(const msg_t *m) {
  return msg_prefix_ok(m, m->size);
}

/* After a realloc of m's block to `size` payload bytes: the kept prefix
 * must be intact; then the whole is patterned for the new size. */
static inline bool msg_resized(msg_t *m, size_t size) {
  bool ok = msg_prefix_ok(m, size < m->size ? size : m->size);
  m->size = size;
  pattern_fill(m + 1, size, (uint32_t)m->id);
  return ok;
}

/* ---- a blocking queue (mutex + condition variable) ---- */
typedef struct queue_s {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  msg_t *head, *tail;
  size_t length;
  bool closed;
} queue_t;

static inline void queue_init(queue_t *q) {
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->cond, NULL);
  q->head = q->tail = NULL;
  q->length = 0;
  q->closed = false;
}

static inline void queue_push(queue_t *q, msg_t *m) {
  m->next = NULL;
  pthread_mutex_lock(&q->lock);
  if (q->tail != NULL)
    q->tail->next = m;
  else
    q->head = m;
  q->tail = m;
  q->length++;
  pthread_cond_signal(&q->cond);
  pthread_mutex_unlock(&q->lock);
}

/* The next message, or NULL once the queue is closed and empty. */
static inline msg_t *queue_pop(queue_t *q) {
  pthread_mutex_lock(&q->lock);
  while (q->head == NULL && !q->closed)
    pthread_cond_wait(&q->cond, &q->lock);
  msg_t *m = q->head;
  if (m != NULL) {
    q->head = m->next;
    if (q->head == NULL)
      q->tail = NULL;
    q->length--;
  }
  pthread_mutex_unlock(&q->lock);
  return m;
}

static inline size_t queue_length(queue_t *q) {
  pthread_mutex_lock(&q->lock);
  size_t n = q->length;
  pthread_mutex_unlock(&q->lock);
  return n;
}

static inline void queue_close(queue_t *q) {
  pthread_mutex_lock(&q->lock);
  q->closed = true;
  pthread_cond_broadcast(&q->cond);
  pthread_mutex_unlock(&q->lock);
}

/* ---- bookkeeping: each id must arrive exactly once ---- */
typedef struct ledger_s {
  _Atomic uint64_t *seen; /* bitmap over ids */
  _Atomic uint64_t count, id_sum;
  _Atomic uint64_t duplicates, damaged, failed_allocs;
} ledger_t;

static inline void ledger_init(ledger_t *l, uint64_t ids) {
  l->seen = calloc(ids / 64 + 1, sizeof(uint64_t)); /* system malloc */
  cr_assert_not_null(l->seen);
  atomic_init(&l->count, 0);
  atomic_init(&l->id_sum, 0);
  atomic_init(&l->duplicates, 0);
  atomic_init(&l->damaged, 0);
  atomic_init(&l->failed_allocs, 0);
}

/* Records that message `m` arrived (and checks it) before it is freed. */
static inline void ledger_arrive(ledger_t *l, const msg_t *m) {
  uint64_t bit = (uint64_t)1 << (m->id % 64);
  if (atomic_fetch_or(&l->seen[m->id / 64], bit) & bit)
    atomic_fetch_add(&l->duplicates, 1);
  if (!msg_ok(m))
    atomic_fetch_add(&l->damaged, 1);
  atomic_fetch_add(&l->count, 1);
  atomic_fetch_add(&l->id_sum, m->id);
}

/* Ids 0 .. n-1 each arrived exactly once, intact. */
static inline void ledger_assert_complete(ledger_t *l, uint64_t n) {
  cr_assert_eq(atomic_load(&l->failed_allocs), 0, "allocations failed");
  cr_assert_eq(atomic_load(&l->duplicates), 0, "blocks arrived twice");
  cr_assert_eq(atomic_load(&l->damaged), 0, "blocks arrived damaged");
  cr_assert_eq(atomic_load(&l->count), n, "%lu of %lu blocks arrived",
               (unsigned long)atomic_load(&l->count), (unsigned long)n);
  cr_assert_eq(atomic_load(&l->id_sum), n * (n - 1) / 2);
  for (uint64_t id = 0; id < n; id++)
    cr_assert(atomic_load(&l->seen[id / 64]) & ((uint64_t)1 << (id % 64)),
              "block %lu never arrived", (unsigned long)id);
  free(l->seen);
}

/* Sizes for messages: mostly small, some medium and large, a rare huge. */
static inline size_t msg_size(rng_t *rng) {
  size_t s = rng_size(rng, 1);
  return s > sizeof(msg_t) ? s - sizeof(msg_t) : 0;
}

#endif /* SEGALLOC_TESTS_MSG_QUEUE_H */
