/* Shared helpers for the segalloc benchmark workloads.
 *
 * Every workload must be deterministic given its seed: the runner compares
 * the checksum line each program prints under every allocator, so a
 * checksum may depend only on the seed and parameters, never on addresses
 * or on thread interleaving (multi-threaded workloads therefore combine
 * per-thread results with a commutative sum). */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* splitmix64: tiny, fast and good enough to pick sizes and slots; we want
 * the workload to spend its time in the allocator, not in the RNG. */
typedef struct {
  uint64_t s;
} rng_t;

static inline void rng_seed(rng_t *r, uint64_t seed) {
  r->s = seed * 0x9E3779B97F4A7C15ull + 0x1234567ull;
}

static inline uint64_t rng_next(rng_t *r) {
  uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Uniform in [lo, hi]; the modulo bias is irrelevant here. */
static inline uint64_t rng_range(rng_t *r, uint64_t lo, uint64_t hi) {
  return lo + rng_next(r) % (hi - lo + 1);
}

/* Log-uniform size: a power-of-two band 2^lobits..2^hibits is picked
 * uniformly, then a size in [band, 2 * band], so small sizes are as common
 * as in real programs. */
static inline size_t rng_logsize(rng_t *r, unsigned lobits, unsigned hibits) {
  unsigned bits = (unsigned)rng_range(r, lobits, hibits);
  size_t lo = (size_t)1 << bits;
  return (size_t)rng_range(r, lo, 2 * lo);
}

/* Log-uniform size in [min, max]: a power-of-two band between min's and
 * max's is picked uniformly, then a size inside it (clamped to the range).
 * Used where the range is an option rather than fixed bands. */
static inline size_t rng_logrange(rng_t *r, uint64_t min, uint64_t max) {
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

/* A size in [min, max], uniform or log-uniform (the -d option of the
 * workloads that take a size range). */
static inline size_t rng_size(rng_t *r, uint64_t min, uint64_t max,
                              int uniform) {
  return uniform ? (size_t)rng_range(r, min, max) : rng_logrange(r, min, max);
}

/* Mixes one value into a running hash (order-dependent, single thread). */
static inline uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h;
}

/* Per-block stamp: written at allocation, checked before free, so a block
 * that an allocator hands out twice or overlaps with another is caught as
 * a checksum difference instead of passing silently. */
typedef struct {
  uint64_t tag;
  uint64_t size;
} stamp_t;

static inline void stamp_write(void *p, size_t size, uint64_t tag) {
  stamp_t st = {tag, size};
  size_t n = size < sizeof st ? size : sizeof st;
  memcpy(p, &st, n);
  /* Touch the last byte too: catches blocks shorter than requested. */
  if (size > sizeof st) {
    ((unsigned char *)p)[size - 1] = (unsigned char)tag;
  }
}

/* Returns 1 if the stamp is intact, 0 if it was overwritten. */
static inline int stamp_ok(const void *p, size_t size, uint64_t tag) {
  stamp_t st = {tag, size};
  size_t n = size < sizeof st ? size : sizeof st;
  if (memcmp(p, &st, n) != 0) {
    return 0;
  }
  return size <= sizeof st ||
         ((const unsigned char *)p)[size - 1] == (unsigned char)tag;
}

/* Checks a block whose size is only known from its own stamp (the freeing
 * thread did not allocate it): returns 1 if the stamp is intact and its
 * size plausible (<= max), and stores the tag for the caller's free sum. */
static inline int stamp_check_self(const void *p, size_t max, uint64_t *tag) {
  stamp_t st;
  memcpy(&st, p, sizeof st);
  *tag = st.tag;
  return st.size >= sizeof st && st.size <= max && stamp_ok(p, st.size, st.tag);
}

/* A single thread's result: its hash, changed by any corrupted block (which
 * is also reported on stderr). */
static inline uint64_t hash_with_bad(const char *name, uint64_t h,
                                     uint64_t bad) {
  if (bad != 0) {
    fprintf(stderr, "%s: %llu corrupted blocks\n", name,
            (unsigned long long)bad);
  }
  return h + bad * 0x100000001ull;
}

/* Multi-threaded workloads account every block: the sum of tags freed must
 * equal the sum allocated. Prints the checksum line the runner compares,
 * "<name> <k1>=<v1> <k2>=<v2> checksum=.. bad=.. balanced=..", and says on
 * stderr too when blocks were corrupted or the sums differ. */
static inline void print_balance(const char *name, const char *k1, uint64_t v1,
                                 const char *k2, uint64_t v2, uint64_t bad,
                                 uint64_t alloc_sum, uint64_t free_sum) {
  if (bad != 0 || free_sum != alloc_sum) {
    fprintf(stderr, "%s: %llu corrupted blocks, sums %s\n", name,
            (unsigned long long)bad,
            free_sum == alloc_sum ? "match" : "DIFFER");
  }
  printf("%s %s=%llu %s=%llu checksum=%016llx bad=%llu balanced=%d\n", name, k1,
         (unsigned long long)v1, k2, (unsigned long long)v2,
         (unsigned long long)alloc_sum, (unsigned long long)bad,
         free_sum == alloc_sum);
}

static inline void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (p == NULL) {
    fprintf(stderr, "out of memory (%zu bytes)\n", n);
    exit(2);
  }
  return p;
}

/* Parses a non-negative integer argument or exits with a usage error. */
static inline unsigned long long parse_num(const char *s, const char *what) {
  char *end;
  unsigned long long v = strtoull(s, &end, 0);
  if (*s == '\0' || *end != '\0') {
    fprintf(stderr, "bad value for %s: '%s'\n", what, s);
    exit(64);
  }
  return v;
}

/* Parses `-x value` options. spec lists each option letter followed by
 * '#' (a number, parsed by parse_num into a uint64_t) or '$' (a string,
 * stored as a const char *); the variadic arguments are the pointers to
 * store into, in spec order: parse_opts(argc, argv, "t#o$", usage, &threads,
 * &order). An unknown option, a bad number or a stray argument prints
 * `usage` and exits with 64. */
static inline void parse_opts(int argc, char **argv, const char *spec,
                              const char *usage, ...) {
  enum { MAXOPT = 16 };
  void *dst[MAXOPT];
  char getopt_spec[2 * MAXOPT + 1];
  size_t n = strlen(spec) / 2;
  if (n > MAXOPT) {
    n = MAXOPT;
  }
  va_list ap;
  va_start(ap, usage);
  for (size_t i = 0; i < n; i++) {
    dst[i] = va_arg(ap, void *);
    getopt_spec[2 * i] = spec[2 * i];
    getopt_spec[2 * i + 1] = ':';
  }
  va_end(ap);
  getopt_spec[2 * n] = '\0';
  int c;
  while ((c = getopt(argc, argv, getopt_spec)) != -1) {
    size_t i = 0;
    while (i < n && spec[2 * i] != c) {
      i++;
    }
    if (i == n) {
      fprintf(stderr, "usage: %s\n", usage);
      exit(64);
    }
    char what[3] = {'-', (char)c, '\0'};
    if (spec[2 * i + 1] == '$') {
      *(const char **)dst[i] = optarg;
    } else {
      *(uint64_t *)dst[i] = parse_num(optarg, what);
    }
  }
  if (optind < argc) {
    fprintf(stderr, "unexpected argument '%s'\nusage: %s\n", argv[optind],
            usage);
    exit(64);
  }
}

/* A set of `live` blocks in which a randomly chosen one is replaced each
 * step (free order unrelated to allocation order), as both the small-block
 * (churn -o random) and the large-block (large_churn) workloads do. The
 * workload says how to size, fill and check a block; every block is
 * checked before it is freed. */
typedef struct {
  size_t (*pick)(rng_t *r, const void *ctx);
  void (*fill)(void *p, size_t size, uint64_t tag);
  int (*check)(const void *p, size_t size, uint64_t tag);
  const void *ctx; /* passed to pick */
} block_kind_t;

/* Runs `steps` replacements on a set of `live` blocks, then frees them all.
 * Returns a hash of the sizes picked; adds corrupted blocks to *bad. */
static inline uint64_t replace_random(rng_t *r, uint64_t live, uint64_t steps,
                                      const block_kind_t *k, uint64_t *bad) {
  void **p = xmalloc(live * sizeof *p);
  size_t *sz = xmalloc(live * sizeof *sz);
  uint64_t *tag = xmalloc(live * sizeof *tag);
  uint64_t h = 0;
  for (uint64_t i = 0; i < live + steps; i++) {
    /* The first `live` steps fill the set, the others replace. */
    uint64_t s = i < live ? i : rng_range(r, 0, live - 1);
    if (i >= live) {
      *bad += !k->check(p[s], sz[s], tag[s]);
      free(p[s]);
      h = mix(h, sz[s] ^ s);
    }
    sz[s] = k->pick(r, k->ctx);
    tag[s] = rng_next(r);
    p[s] = xmalloc(sz[s]);
    k->fill(p[s], sz[s], tag[s]);
  }
  for (uint64_t s = 0; s < live; s++) {
    *bad += !k->check(p[s], sz[s], tag[s]);
    free(p[s]);
  }
  free(p);
  free(sz);
  free(tag);
  return h;
}

/* Exits with a usage error unless ok: `need(x >= 1, "-x >= 1")`. */
static inline void need(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "need %s\n", what);
    exit(64);
  }
}

/* Runs fn on n threads, thread i getting (char *)jobs + i * job_size as
 * its argument, and returns when all have been joined. Exits if a thread
 * cannot be created: a benchmark with fewer threads measures nothing. */
static inline void run_threads(uint64_t n, void *(*fn)(void *), void *jobs,
                               size_t job_size) {
  pthread_t *tid = xmalloc(n * sizeof *tid);
  for (uint64_t t = 0; t < n; t++) {
    if (pthread_create(&tid[t], NULL, fn, (char *)jobs + t * job_size) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      exit(1);
    }
  }
  for (uint64_t t = 0; t < n; t++) {
    pthread_join(tid[t], NULL);
  }
  free(tid);
}

/* run_threads, then the sum of each job's uint64_t result at sum_offset
 * (offsetof(job_t, sum)): commutative, so independent of finishing order. */
static inline uint64_t run_summed(uint64_t n, void *(*fn)(void *), void *jobs,
                                  size_t job_size, size_t sum_offset) {
  run_threads(n, fn, jobs, job_size);
  uint64_t sum = 0;
  for (uint64_t t = 0; t < n; t++) {
    uint64_t v;
    memcpy(&v, (char *)jobs + t * job_size + sum_offset, sizeof v);
    sum += v;
  }
  return sum;
}

/* For workloads whose threads work independently: runs fn on each job,
 * prints "<name> threads=.. n=.. checksum=<sum of the jobs' results>" (the
 * line the runner compares across allocators) and frees jobs. */
static inline void run_and_print(const char *name, uint64_t threads, uint64_t n,
                                 void *(*fn)(void *), void *jobs,
                                 size_t job_size, size_t sum_offset) {
  uint64_t sum = run_summed(threads, fn, jobs, job_size, sum_offset);
  printf("%s threads=%llu n=%llu checksum=%016llx\n", name,
         (unsigned long long)threads, (unsigned long long)n,
         (unsigned long long)sum);
  free(jobs);
}

#endif
