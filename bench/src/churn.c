/* churn: single-thread small-object churn (sizes 8..1024 bytes).
 *
 * Usage: churn [-t threads] [-n allocations] [-w live] [-o lifo|random]
 *              [-m min_bytes] [-M max_bytes] [-d log|uniform] [-s seed]
 *
 * lifo:   allocate a batch of up to `live` blocks, free them newest first
 *         (the stack-like pattern of scoped temporaries).
 * random: keep `live` blocks alive and replace a randomly chosen one each
 *         step (free order unrelated to allocation order, which fragments
 *         size-class pages).
 * Sizes are log-uniform over 8..1024 by default, so small sizes are common
 * as in real programs; -m/-M/-d change the range and distribution (e.g.
 * 20,000 live blocks of 8..263 B uniform, or 8 B..16 KiB log-uniform). With -t
 * > 1 each thread runs the same churn independently on its own seed: this
 * measures thread-local fast paths, not sharing. */
#include "common.h"

typedef struct {
  uint64_t seed, n, live, min, max;
  int lifo, uniform;
  uint64_t sum; /* result */
} job_t;

static size_t pick_size(rng_t *r, const void *ctx) {
  const job_t *j = ctx;
  return rng_size(r, j->min, j->max, j->uniform);
}

/* Batches of 1..live blocks, freed newest first. */
static uint64_t churn_lifo(rng_t *r, const job_t *j, uint64_t *bad) {
  uint64_t n = j->n, live = j->live;
  void **p = xmalloc(live * sizeof *p);
  size_t *sz = xmalloc(live * sizeof *sz);
  uint64_t *tag = xmalloc(live * sizeof *tag);
  uint64_t h = 0;
  for (uint64_t done = 0, k; done < n; done += k) {
    k = rng_range(r, 1, live);
    if (k > n - done) {
      k = n - done;
    }
    for (uint64_t i = 0; i < k; i++) {
      sz[i] = pick_size(r, j);
      tag[i] = rng_next(r);
      p[i] = xmalloc(sz[i]);
      stamp_write(p[i], sz[i], tag[i]);
      h = mix(h, sz[i]);
    }
    for (uint64_t i = k; i-- > 0;) {
      *bad += !stamp_ok(p[i], sz[i], tag[i]);
      free(p[i]);
    }
  }
  free(p);
  free(sz);
  free(tag);
  return h;
}

static void *run(void *arg) {
  job_t *j = arg;
  rng_t r;
  rng_seed(&r, j->seed);
  uint64_t h, bad = 0;
  if (j->lifo) {
    h = churn_lifo(&r, j, &bad);
  } else {
    const block_kind_t small = {pick_size, stamp_write, stamp_ok, j};
    h = replace_random(&r, j->live, j->n, &small, &bad);
  }
  j->sum = hash_with_bad("churn", h, bad);
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t threads = 1, n = 1000000, live = 1000, min = 8, max = 1024;
  uint64_t seed = 42;
  const char *order = "lifo", *dist = "log";
  parse_opts(argc, argv, "t#n#w#o$m#M#d$s#",
             "churn [-t threads] [-n allocs] [-w live] [-o lifo|random] "
             "[-m min_bytes] [-M max_bytes] [-d log|uniform] [-s seed]",
             &threads, &n, &live, &order, &min, &max, &dist, &seed);
  int lifo = strcmp(order, "lifo") == 0;
  int uniform = strcmp(dist, "uniform") == 0;
  need(lifo || strcmp(order, "random") == 0, "-o lifo or -o random");
  need(uniform || strcmp(dist, "log") == 0, "-d log or -d uniform");
  need(threads >= 1 && live >= 1 && min >= 1 && max >= min,
       "-t >= 1, -w >= 1 and 1 <= -m <= -M");
  job_t *jobs = xmalloc(threads * sizeof *jobs);
  for (uint64_t t = 0; t < threads; t++) {
    jobs[t] = (job_t){seed + t, n, live, min, max, lifo, uniform, 0};
  }
  run_and_print(lifo ? "churn order=lifo" : "churn order=random", threads, n,
                run, jobs, sizeof *jobs, offsetof(job_t, sum));
  return 0;
}
