/* larson: server simulation in the spirit of Larson & Krishnan's benchmark.
 *
 * Usage: larson [-t threads] [-n ops_per_thread] [-w slots_per_thread]
 *               [-x share_percent] [-h handoff_every] [-r generations]
 *               [-s seed]
 *
 * A shared table holds threads*slots live blocks (sizes log-uniform
 * 16..1024). Each step a thread allocates a block and swaps it into a slot:
 * usually one of its own, but with probability share_percent any slot, so
 * the block it displaces (and frees) was often allocated by another thread.
 * That is how server threads hand requests and buffers to each other. The
 * run is split into generations: the worker threads exit and fresh ones
 * take over the same table, so thread-cache teardown and adoption of
 * blocks owned by dead threads are exercised too, as in the original.
 * With -h N (and -x 0), every Nth block a thread allocates goes into a
 * slot of the next thread instead, and every other into one of its own:
 * a fixed share of hand-offs (1 in 16 with -h 16) instead of a random one.
 *
 * Determinism: which block a thread displaces depends on interleaving, so
 * the checksum is built from commutative sums only. Every block carries a
 * stamp {tag, size}; the sum of tags freed must equal the sum of tags
 * allocated, and every stamp must be intact when its block is freed. */
#include "common.h"
#include <stdatomic.h>

static _Atomic(void *) *slots;
static uint64_t nslots, share_pct, handoff;

typedef struct {
  uint64_t seed, ops, first, count; /* own slot range [first, first+count) */
  uint64_t next_first;              /* the next thread's slot range */
  uint64_t alloc_sum, free_sum, bad;
} job_t;

/* Checks and frees a displaced block; returns its tag for the free sum. */
static uint64_t release(void *p, uint64_t *bad) {
  uint64_t tag;
  *bad += !stamp_check_self(p, 1024, &tag);
  free(p);
  return tag;
}

static void *make_block(rng_t *r, uint64_t *alloc_sum) {
  size_t sz = rng_logsize(r, 4, 9) /* 16..1024 */;
  uint64_t tag = rng_next(r);
  void *p = xmalloc(sz);
  stamp_write(p, sz, tag);
  *alloc_sum += tag;
  return p;
}

static void *run(void *arg) {
  job_t *j = arg;
  rng_t r;
  rng_seed(&r, j->seed);
  for (uint64_t i = 0; i < j->ops; i++) {
    void *p = make_block(&r, &j->alloc_sum);
    uint64_t s = j->first + rng_range(&r, 0, j->count - 1);
    if (handoff != 0 && (i + 1) % handoff == 0) {
      s = s - j->first + j->next_first;
    } else if (rng_range(&r, 0, 99) < share_pct) {
      s = rng_range(&r, 0, nslots - 1);
    }
    void *old = atomic_exchange_explicit(&slots[s], p, memory_order_acq_rel);
    if (old != NULL) {
      j->free_sum += release(old, &j->bad);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t threads = 1, ops = 2000000, per = 1000, gens = 4, seed = 42;
  share_pct = 20;
  parse_opts(argc, argv, "t#n#w#x#h#r#s#",
             "larson [-t threads] [-n ops_per_thread] [-w slots_per_thread] "
             "[-x share_percent] [-h handoff_every] [-r generations] "
             "[-s seed]",
             &threads, &ops, &per, &share_pct, &handoff, &gens, &seed);
  need(threads >= 1 && per >= 1 && gens >= 1 && share_pct <= 100,
       "-t, -w, -r >= 1 and -x <= 100");
  nslots = threads * per;
  slots = xmalloc(nslots * sizeof *slots);
  uint64_t alloc_sum = 0, free_sum = 0, bad = 0;
  rng_t r;
  rng_seed(&r, seed);
  /* The main thread fills the table, so even generation 0 frees blocks it
   * did not allocate. */
  for (uint64_t s = 0; s < nslots; s++) {
    atomic_init(&slots[s], make_block(&r, &alloc_sum));
  }

  job_t *jobs = xmalloc(threads * sizeof *jobs);
  for (uint64_t g = 0; g < gens; g++) {
    for (uint64_t t = 0; t < threads; t++) {
      uint64_t o = ops / gens + (g < ops % gens);
      jobs[t] = (job_t){seed * 1000003 + g * threads + t + 1,
                        o,
                        t * per,
                        per,
                        (t + 1) % threads * per,
                        0,
                        0,
                        0};
    }
    run_threads(threads, run, jobs, sizeof *jobs);
    for (uint64_t t = 0; t < threads; t++) {
      alloc_sum += jobs[t].alloc_sum;
      free_sum += jobs[t].free_sum;
      bad += jobs[t].bad;
    }
  }
  for (uint64_t s = 0; s < nslots; s++) {
    void *p = atomic_load(&slots[s]);
    free_sum += release(p, &bad);
  }
  print_balance("larson", "threads", threads, "ops", ops, bad, alloc_sum,
                free_sum);
  free((void *)slots);
  free(jobs);
  return 0;
}
