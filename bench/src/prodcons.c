/* prodcons: producer/consumer, in the style of xmalloc-test.
 *
 * Usage: prodcons [-t pairs] [-n blocks_per_producer] [-b batch] [-s seed]
 *
 * Each pair has one thread that only allocates and one that only frees:
 * the producer fills batches of `batch` blocks (sizes log-uniform 16..1024)
 * and queues them; the consumer checks and frees them. Every free is a
 * remote free, so an allocator that keeps freed memory in the freeing
 * thread's cache, or that takes a global lock, shows it here. -t is the
 * number of pairs, so -t 1 already runs two threads.
 *
 * The queue is a bounded mutex/condvar ring, not a spin queue: with more
 * threads than cores a spinning consumer would measure the scheduler. The
 * batch arrays are malloc'ed by the producer and freed by the consumer too.
 * Checksum: sum of tags allocated, which must equal the sum freed. */
#include "common.h"

#define QCAP 32 /* batches in flight per pair: bounds memory use */

typedef struct {
  void **blocks; /* malloc'ed by the producer, freed by the consumer */
  size_t n;
} batch_t;

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t not_empty, not_full;
  batch_t q[QCAP];
  unsigned head, len;
  int done;
  uint64_t seed, nblocks, batch;
  uint64_t alloc_sum, free_sum, bad;
} pair_t;

static void *producer(void *arg) {
  pair_t *p = arg;
  rng_t r;
  rng_seed(&r, p->seed);
  uint64_t left = p->nblocks;
  while (left > 0) {
    size_t n = left < p->batch ? (size_t)left : (size_t)p->batch;
    batch_t b = {xmalloc(n * sizeof(void *)), n};
    for (size_t i = 0; i < n; i++) {
      size_t sz = rng_logsize(&r, 4, 9) /* 16..1024 */;
      uint64_t tag = rng_next(&r);
      b.blocks[i] = xmalloc(sz);
      stamp_write(b.blocks[i], sz, tag);
      p->alloc_sum += tag;
    }
    left -= n;
    pthread_mutex_lock(&p->mu);
    while (p->len == QCAP) {
      pthread_cond_wait(&p->not_full, &p->mu);
    }
    p->q[(p->head + p->len) % QCAP] = b;
    p->len++;
    pthread_cond_signal(&p->not_empty);
    pthread_mutex_unlock(&p->mu);
  }
  pthread_mutex_lock(&p->mu);
  p->done = 1;
  pthread_cond_signal(&p->not_empty);
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

static void *consumer(void *arg) {
  pair_t *p = arg;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    while (p->len == 0 && !p->done) {
      pthread_cond_wait(&p->not_empty, &p->mu);
    }
    if (p->len == 0) { /* done and drained */
      pthread_mutex_unlock(&p->mu);
      return NULL;
    }
    batch_t b = p->q[p->head];
    p->head = (p->head + 1) % QCAP;
    p->len--;
    pthread_cond_signal(&p->not_full);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < b.n; i++) {
      uint64_t tag;
      p->bad += !stamp_check_self(b.blocks[i], 1024, &tag);
      p->free_sum += tag;
      free(b.blocks[i]);
    }
    free(b.blocks);
  }
}

/* Thread 2i is pair i's producer, thread 2i+1 its consumer. */
typedef struct {
  pair_t *pair;
  int consumes;
} member_t;

static void *member(void *arg) {
  member_t *m = arg;
  return m->consumes ? consumer(m->pair) : producer(m->pair);
}

int main(int argc, char **argv) {
  uint64_t pairs = 1, n = 4000000, batch = 64, seed = 42;
  parse_opts(argc, argv, "t#n#b#s#",
             "prodcons [-t pairs] [-n blocks_per_producer] [-b batch] "
             "[-s seed]",
             &pairs, &n, &batch, &seed);
  need(pairs >= 1 && batch >= 1, "-t >= 1 and -b >= 1");
  pair_t *ps = xmalloc(pairs * sizeof *ps);
  member_t *ms = xmalloc(2 * pairs * sizeof *ms);
  for (uint64_t i = 0; i < pairs; i++) {
    pair_t *p = &ps[i];
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->not_empty, NULL);
    pthread_cond_init(&p->not_full, NULL);
    p->seed = seed + i;
    p->nblocks = n;
    p->batch = batch;
    ms[2 * i] = (member_t){p, 0};
    ms[2 * i + 1] = (member_t){p, 1};
  }
  run_threads(2 * pairs, member, ms, sizeof *ms);
  uint64_t alloc_sum = 0, free_sum = 0, bad = 0;
  for (uint64_t i = 0; i < pairs; i++) {
    alloc_sum += ps[i].alloc_sum;
    free_sum += ps[i].free_sum;
    bad += ps[i].bad;
    pthread_mutex_destroy(&ps[i].mu);
    pthread_cond_destroy(&ps[i].not_empty);
    pthread_cond_destroy(&ps[i].not_full);
  }
  print_balance("prodcons", "pairs", pairs, "n", n, bad, alloc_sum, free_sum);
  free(ps);
  free(ms);
  return 0;
}
