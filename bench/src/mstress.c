/* mstress: batches of varied sizes, partly freed, partly passed on, by
 * threads that are replaced every round; after mimalloc's test-stress.
 *
 * Usage: mstress [-t threads] [-n steps_per_round] [-r rounds] [-w live]
 *                [-s seed]
 *
 * Each step a thread allocates a batch of 1..32 blocks: mostly 8..1024 B
 * (log-uniform), 1 in 100 of 1..64 KiB. One block in 8 is passed on: it
 * is swapped into a random slot of a table shared by all threads, and the
 * block it displaces (often another thread's) is freed. The others join
 * the thread's own live set of up to `live` blocks; when the set is full a
 * random member is freed to make room. After each batch the thread frees
 * up to 32 random members. At the end of a round every thread exits,
 * leaving its live set to the thread that replaces it next round, which
 * frees half of it at once: blocks of exited threads are freed by others,
 * as in servers whose worker threads come and go.
 *
 * Every block carries a stamp checked before its free; the sum of tags
 * freed must equal the sum allocated (commutative, so the checksum does
 * not depend on interleaving). */
#include "common.h"
#include <stdatomic.h>

#define MAXBLOCK (64 * 1024)
#define TRANSFER 1024 /* slots of the shared table */

static _Atomic(void *) transfer[TRANSFER];

typedef struct {
  uint64_t seed, steps, live;
  void **set; /* the live set, inherited from the previous round's thread */
  uint64_t n;
  uint64_t alloc_sum, free_sum, bad;
} job_t;

static void release(job_t *j, void *p) {
  uint64_t tag;
  j->bad += !stamp_check_self(p, MAXBLOCK, &tag);
  j->free_sum += tag;
  free(p);
}

/* Frees the set member i (swap-remove). */
static void drop(job_t *j, uint64_t i) {
  release(j, j->set[i]);
  j->set[i] = j->set[--j->n];
}

static void *run(void *arg) {
  job_t *j = arg;
  rng_t r;
  rng_seed(&r, j->seed);
  for (uint64_t half = j->n / 2; j->n > half;) {
    drop(j, rng_range(&r, 0, j->n - 1));
  }
  for (uint64_t step = 0; step < j->steps; step++) {
    uint64_t k = rng_range(&r, 1, 32);
    for (uint64_t i = 0; i < k; i++) {
      size_t sz = rng_range(&r, 0, 99) == 0 ? rng_logrange(&r, 1024, MAXBLOCK)
                                            : rng_logrange(&r, 16, 1024);
      uint64_t tag = rng_next(&r);
      void *p = xmalloc(sz);
      stamp_write(p, sz, tag);
      j->alloc_sum += tag;
      if ((rng_next(&r) & 7) == 0) {
        void *old =
            atomic_exchange(&transfer[rng_range(&r, 0, TRANSFER - 1)], p);
        if (old != NULL) {
          release(j, old);
        }
        continue;
      }
      if (j->n == j->live) {
        drop(j, rng_range(&r, 0, j->n - 1));
      }
      j->set[j->n++] = p;
    }
    for (uint64_t f = rng_range(&r, 0, 32); f > 0 && j->n > 0; f--) {
      drop(j, rng_range(&r, 0, j->n - 1));
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t threads = 2, steps = 20000, rounds = 10, live = 2000, seed = 42;
  parse_opts(argc, argv, "t#n#r#w#s#",
             "mstress [-t threads] [-n steps_per_round] [-r rounds] "
             "[-w live] [-s seed]",
             &threads, &steps, &rounds, &live, &seed);
  need(threads >= 1 && rounds >= 1 && live >= 1, "-t, -r and -w >= 1");
  job_t *jobs = xmalloc(threads * sizeof *jobs);
  for (uint64_t t = 0; t < threads; t++) {
    jobs[t] =
        (job_t){0, steps, live, xmalloc(live * sizeof(void *)), 0, 0, 0, 0};
  }
  uint64_t alloc_sum = 0, free_sum = 0, bad = 0;
  for (uint64_t g = 0; g < rounds; g++) {
    for (uint64_t t = 0; t < threads; t++) {
      jobs[t].seed = seed * 1000003 + g * threads + t;
    }
    run_threads(threads, run, jobs, sizeof *jobs);
  }
  for (uint64_t t = 0; t < threads; t++) {
    job_t *j = &jobs[t];
    while (j->n > 0) {
      drop(j, j->n - 1);
    }
    alloc_sum += j->alloc_sum;
    free_sum += j->free_sum;
    bad += j->bad;
    free(j->set);
  }
  for (unsigned s = 0; s < TRANSFER; s++) {
    void *p = atomic_load(&transfer[s]);
    if (p != NULL) {
      uint64_t tag;
      bad += !stamp_check_self(p, MAXBLOCK, &tag);
      free_sum += tag;
      free(p);
    }
  }
  print_balance("mstress", "threads", threads, "rounds", rounds, bad, alloc_sum,
                free_sum);
  free(jobs);
  return 0;
}
