/* Shared helpers for the segalloc benchmark workloads.
 *
 * Every workload must be deterministic given its seed: the runner compares
 * the checksum line each program prints under every allocator, so a
 * checksum may depend only on the seed and parameters, never on addresses
 * or on thread interleaving (multi-threaded workloads therefore combine
 * per-thread results with a commutative sum). */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif
