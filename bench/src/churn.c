/* churn: single-thread small-object churn (sizes 8..1024 bytes).
 *
 * Usage: churn [-t threads] [-n allocations] [-w live] [-o lifo|random]
 *              [-s seed]
 *
 * lifo:   allocate a batch of up to `live` blocks, free them newest first
 *         (the stack-like pattern of scoped temporaries).
 * random: keep `live` blocks alive and replace a randomly chosen one each
 *         step (free order unrelated to allocation order, which fragments
 *         size-class pages).
 * Sizes are log-uniform over 8..1024, so small sizes are common as in real
 * programs. With -t > 1 each thread runs the same churn independently on
 * its own seed: this measures thread-local fast paths, not sharing. */
#include "common.h"
#include <pthread.h>
#include <unistd.h>

typedef struct {
  uint64_t seed, n, live;
  int lifo;
  uint64_t sum; /* result */
} job_t;

static size_t pick_size(rng_t *r) {
  unsigned bits = (unsigned)rng_range(r, 3, 9); /* 8 .. 1023 */
  size_t lo = (size_t)1 << bits;
  return (size_t)rng_range(r, lo, 2 * lo); /* at most 1024 */
}

static void *run(void *arg) {
  job_t *j = arg;
  rng_t r;
  rng_seed(&r, j->seed);
  void **p = xmalloc(j->live * sizeof *p);
  size_t *sz = xmalloc(j->live * sizeof *sz);
  uint64_t *tag = xmalloc(j->live * sizeof *tag);
  uint64_t h = 0, bad = 0, done = 0;

  if (j->lifo) {
    while (done < j->n) {
      uint64_t k = rng_range(&r, 1, j->live);
      if (k > j->n - done) {
        k = j->n - done;
      }
      for (uint64_t i = 0; i < k; i++) {
        sz[i] = pick_size(&r);
        tag[i] = rng_next(&r);
        p[i] = xmalloc(sz[i]);
        stamp_write(p[i], sz[i], tag[i]);
        h = mix(h, sz[i]);
      }
      for (uint64_t i = k; i-- > 0;) {
        bad += !stamp_ok(p[i], sz[i], tag[i]);
        free(p[i]);
      }
      done += k;
    }
  } else {
    for (uint64_t i = 0; i < j->live; i++) {
      sz[i] = pick_size(&r);
      tag[i] = rng_next(&r);
      p[i] = xmalloc(sz[i]);
      stamp_write(p[i], sz[i], tag[i]);
    }
    for (uint64_t step = 0; step < j->n; step++) {
      uint64_t i = rng_range(&r, 0, j->live - 1);
      bad += !stamp_ok(p[i], sz[i], tag[i]);
      free(p[i]);
      sz[i] = pick_size(&r);
      tag[i] = rng_next(&r);
      p[i] = xmalloc(sz[i]);
      stamp_write(p[i], sz[i], tag[i]);
      h = mix(h, sz[i] ^ i);
    }
    for (uint64_t i = 0; i < j->live; i++) {
      bad += !stamp_ok(p[i], sz[i], tag[i]);
      free(p[i]);
    }
  }
  free(p);
  free(sz);
  free(tag);
  j->sum = h + bad * 0x100000001ull;
  if (bad) {
    fprintf(stderr, "churn: %llu corrupted blocks\n", (unsigned long long)bad);
  }
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t threads = 1, n = 1000000, live = 1000, seed = 42;
  int lifo = 1, opt;
  while ((opt = getopt(argc, argv, "t:n:w:o:s:")) != -1) {
    switch (opt) {
    case 't':
      threads = parse_num(optarg, "-t");
      break;
    case 'n':
      n = parse_num(optarg, "-n");
      break;
    case 'w':
      live = parse_num(optarg, "-w");
      break;
    case 'o':
      lifo = strcmp(optarg, "lifo") == 0;
      if (!lifo && strcmp(optarg, "random") != 0) {
        fprintf(stderr, "-o must be lifo or random\n");
        return 64;
      }
      break;
    case 's':
      seed = parse_num(optarg, "-s");
      break;
    default:
      fprintf(stderr, "usage: churn [-t threads] [-n allocs] [-w live] "
                      "[-o lifo|random] [-s seed]\n");
      return 64;
    }
  }
  if (threads < 1 || live < 1) {
    fprintf(stderr, "need -t >= 1 and -w >= 1\n");
    return 64;
  }
  job_t *jobs = xmalloc(threads * sizeof *jobs);
  pthread_t *tid = xmalloc(threads * sizeof *tid);
  for (uint64_t t = 0; t < threads; t++) {
    jobs[t] = (job_t){seed + t, n, live, lifo, 0};
    if (pthread_create(&tid[t], NULL, run, &jobs[t]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 1;
    }
  }
  uint64_t sum = 0;
  for (uint64_t t = 0; t < threads; t++) {
    pthread_join(tid[t], NULL);
    sum += jobs[t].sum; /* commutative: independent of finishing order */
  }
  printf("churn order=%s threads=%llu n=%llu checksum=%016llx\n",
         lifo ? "lifo" : "random", (unsigned long long)threads,
         (unsigned long long)n, (unsigned long long)sum);
  free(jobs);
  free(tid);
  return 0;
}
