/* large_churn: large-block churn around the mmap threshold.
 *
 * Usage: large_churn [-t threads] [-n ops_per_thread] [-w live]
 *                    [-m min_kib] [-M max_kib] [-s seed]
 *
 * Each thread keeps `live` blocks of 64 KiB..1 MiB (log-uniform) and
 * replaces a random one each step, writing one byte per 4 KiB page of the
 * new block as a program filling a buffer would. This is where allocators
 * differ most in system calls and page faults: glibc's mmap threshold
 * (128 KiB, raised dynamically), caching of freed spans vs returning them
 * to the OS at once, and huge-page or segment granularity. The page
 * touches make those costs visible in wall time and peak RSS. */
#include "common.h"
#include <pthread.h>
#include <unistd.h>

#define PAGE 4096

typedef struct {
  uint64_t seed, n, live, min, max;
  uint64_t sum;
} job_t;

static size_t pick_size(rng_t *r, uint64_t min, uint64_t max) {
  /* log-uniform: pick a power-of-two band, then a size inside it */
  unsigned lob = 0, hib = 0;
  while (((uint64_t)2 << lob) <= min) {
    lob++;
  }
  while (((uint64_t)2 << hib) <= max) {
    hib++;
  }
  unsigned b = (unsigned)rng_range(r, lob, hib);
  uint64_t lo = (uint64_t)1 << b, hi = lo * 2 - 1;
  if (lo < min) {
    lo = min;
  }
  if (hi > max) {
    hi = max;
  }
  return (size_t)rng_range(r, lo, hi);
}

/* The page loop stops before the last byte, which holds the stamp tag. */
static void fill(unsigned char *p, size_t sz, uint64_t tag) {
  stamp_write(p, sz, tag);
  for (size_t off = PAGE; off + 1 < sz; off += PAGE) {
    p[off] = (unsigned char)(tag >> 8);
  }
}

static int check(const unsigned char *p, size_t sz, uint64_t tag) {
  int ok = stamp_ok(p, sz, tag);
  for (size_t off = PAGE; off + 1 < sz; off += PAGE) {
    ok &= p[off] == (unsigned char)(tag >> 8);
  }
  return ok;
}

static void *run(void *arg) {
  job_t *j = arg;
  rng_t r;
  rng_seed(&r, j->seed);
  unsigned char **p = xmalloc(j->live * sizeof *p);
  size_t *sz = xmalloc(j->live * sizeof *sz);
  uint64_t *tag = xmalloc(j->live * sizeof *tag);
  uint64_t h = 0, bad = 0;
  for (uint64_t i = 0; i < j->live; i++) {
    sz[i] = pick_size(&r, j->min, j->max);
    tag[i] = rng_next(&r);
    p[i] = xmalloc(sz[i]);
    fill(p[i], sz[i], tag[i]);
  }
  for (uint64_t step = 0; step < j->n; step++) {
    uint64_t i = rng_range(&r, 0, j->live - 1);
    bad += !check(p[i], sz[i], tag[i]);
    free(p[i]);
    sz[i] = pick_size(&r, j->min, j->max);
    tag[i] = rng_next(&r);
    p[i] = xmalloc(sz[i]);
    fill(p[i], sz[i], tag[i]);
    h = mix(h, sz[i]);
  }
  for (uint64_t i = 0; i < j->live; i++) {
    bad += !check(p[i], sz[i], tag[i]);
    free(p[i]);
  }
  free(p);
  free(sz);
  free(tag);
  if (bad) {
    fprintf(stderr, "large_churn: %llu corrupted blocks\n",
            (unsigned long long)bad);
  }
  j->sum = h + bad * 0x100000001ull;
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t threads = 1, n = 100000, live = 32, min = 64, max = 1024, seed = 42;
  int opt;
  while ((opt = getopt(argc, argv, "t:n:w:m:M:s:")) != -1) {
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
    case 'm':
      min = parse_num(optarg, "-m");
      break;
    case 'M':
      max = parse_num(optarg, "-M");
      break;
    case 's':
      seed = parse_num(optarg, "-s");
      break;
    default:
      fprintf(stderr, "usage: large_churn [-t threads] [-n ops_per_thread] "
                      "[-w live] [-m min_kib] [-M max_kib] [-s seed]\n");
      return 64;
    }
  }
  if (threads < 1 || live < 1 || min < 1 || max < min) {
    fprintf(stderr, "need -t >= 1, -w >= 1, 1 <= -m <= -M\n");
    return 64;
  }
  job_t *jobs = xmalloc(threads * sizeof *jobs);
  pthread_t *tid = xmalloc(threads * sizeof *tid);
  for (uint64_t t = 0; t < threads; t++) {
    jobs[t] = (job_t){seed + t, n, live, min * 1024, max * 1024, 0};
    if (pthread_create(&tid[t], NULL, run, &jobs[t]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 1;
    }
  }
  uint64_t sum = 0;
  for (uint64_t t = 0; t < threads; t++) {
    pthread_join(tid[t], NULL);
    sum += jobs[t].sum;
  }
  printf("large_churn threads=%llu n=%llu checksum=%016llx\n",
         (unsigned long long)threads, (unsigned long long)n,
         (unsigned long long)sum);
  free(jobs);
  free(tid);
  return 0;
}
