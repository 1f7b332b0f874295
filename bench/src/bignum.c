/* bignum: many short-lived small objects around a small long-lived set, as
 * in a bignum program (cfrac factoring with its own bignum library).
 *
 * Usage: bignum [-t threads] [-n operations] [-w long_lived] [-s seed]
 *
 * Numbers are malloc'ed objects of 2..14 32-bit limbs plus a header: 16 to
 * 64 bytes. Each operation takes two numbers of the long-lived set and
 * computes a sum, a product, a difference and a quotient by a small
 * divisor, each into a fresh object, frees the temporaries and, one time
 * in 16, keeps the result in the long-lived set in place of a random
 * member (the rest of the time frees it too). Results wrap modulo
 * 2^(32*14) and are trimmed of leading zero limbs, so sizes vary as the
 * numbers do. Every object carries a check word over its limbs, verified
 * before it is freed; the checksum hashes every result, so a block handed
 * out twice or a corrupted limb changes it. */
#include "common.h"

#define MAXL 14

typedef struct {
  uint32_t n, check;
  uint32_t limb[];
} num_t;

static uint32_t check_of(const num_t *a) {
  uint32_t c = 0x9e3779b9u ^ a->n;
  for (uint32_t i = 0; i < a->n; i++) {
    c = (c ^ a->limb[i]) * 0x01000193u;
  }
  return c;
}

/* Trims leading zeros (keeping 2 limbs), seals and shrinks nothing: the
 * object was allocated for the worst case of its operation. */
static num_t *seal(num_t *a) {
  while (a->n > 2 && a->limb[a->n - 1] == 0) {
    a->n--;
  }
  a->check = check_of(a);
  return a;
}

static num_t *alloc_num(uint32_t n) {
  num_t *a = xmalloc(sizeof *a + n * sizeof(uint32_t));
  a->n = n;
  return a;
}

static void free_num(num_t *a, uint64_t *bad) {
  *bad += a->check != check_of(a) || a->n < 2 || a->n > MAXL;
  free(a);
}

static num_t *add(const num_t *a, const num_t *b) {
  uint32_t n = (a->n > b->n ? a->n : b->n) + 1;
  n = n > MAXL ? MAXL : n;
  num_t *c = alloc_num(n);
  uint64_t carry = 0;
  for (uint32_t i = 0; i < n; i++) {
    carry +=
        (uint64_t)(i < a->n ? a->limb[i] : 0) + (i < b->n ? b->limb[i] : 0);
    c->limb[i] = (uint32_t)carry;
    carry >>= 32;
  }
  return seal(c);
}

/* Product of the low halves, so it fits in MAXL limbs. */
static num_t *mul(const num_t *a, const num_t *b) {
  uint32_t na = a->n < MAXL / 2 ? a->n : MAXL / 2;
  uint32_t nb = b->n < MAXL / 2 ? b->n : MAXL / 2;
  num_t *c = alloc_num(na + nb);
  memset(c->limb, 0, (na + nb) * sizeof(uint32_t));
  for (uint32_t i = 0; i < na; i++) {
    uint64_t carry = 0;
    for (uint32_t k = 0; k < nb; k++) {
      carry += (uint64_t)a->limb[i] * b->limb[k] + c->limb[i + k];
      c->limb[i + k] = (uint32_t)carry;
      carry >>= 32;
    }
    c->limb[i + nb] = (uint32_t)carry;
  }
  return seal(c);
}

/* a - b modulo 2^(32 * max(na, nb)). */
static num_t *sub(const num_t *a, const num_t *b) {
  uint32_t n = a->n > b->n ? a->n : b->n;
  num_t *c = alloc_num(n);
  int64_t borrow = 0;
  for (uint32_t i = 0; i < n; i++) {
    int64_t d = (int64_t)(i < a->n ? a->limb[i] : 0) -
                (i < b->n ? b->limb[i] : 0) - borrow;
    borrow = d < 0;
    c->limb[i] = (uint32_t)d;
  }
  return seal(c);
}

static num_t *divsmall(const num_t *a, uint32_t d, uint32_t *rem) {
  num_t *q = alloc_num(a->n);
  uint64_t r = 0;
  for (uint32_t i = a->n; i-- > 0;) {
    r = (r << 32) | a->limb[i];
    q->limb[i] = (uint32_t)(r / d);
    r %= d;
  }
  *rem = (uint32_t)r;
  return seal(q);
}

static uint64_t hash_num(uint64_t h, const num_t *a) {
  for (uint32_t i = 0; i < a->n; i++) {
    h = mix(h, a->limb[i]);
  }
  return h;
}

typedef struct {
  uint64_t seed, n, live;
  uint64_t sum;
} job_t;

static void *run(void *arg) {
  job_t *j = arg;
  rng_t r;
  rng_seed(&r, j->seed);
  num_t **set = xmalloc(j->live * sizeof *set);
  for (uint64_t i = 0; i < j->live; i++) {
    uint32_t n = (uint32_t)rng_range(&r, 2, MAXL);
    set[i] = alloc_num(n);
    for (uint32_t k = 0; k < n; k++) {
      set[i]->limb[k] = (uint32_t)rng_next(&r);
    }
    seal(set[i]);
  }
  uint64_t h = 0, bad = 0;
  for (uint64_t op = 0; op < j->n; op++) {
    const num_t *a = set[rng_range(&r, 0, j->live - 1)];
    const num_t *b = set[rng_range(&r, 0, j->live - 1)];
    num_t *s = add(a, b), *p = mul(a, b), *d = sub(p, s);
    uint32_t rem;
    num_t *q = divsmall(d, (uint32_t)rng_range(&r, 3, 65535), &rem);
    h = mix(h, rem);
    free_num(s, &bad);
    free_num(p, &bad);
    free_num(d, &bad);
    if ((op & 15) == 0) {
      uint64_t k = rng_range(&r, 0, j->live - 1);
      h = hash_num(h, set[k]);
      free_num(set[k], &bad);
      set[k] = q;
    } else {
      free_num(q, &bad);
    }
  }
  for (uint64_t i = 0; i < j->live; i++) {
    h = hash_num(h, set[i]);
    free_num(set[i], &bad);
  }
  free(set);
  j->sum = hash_with_bad("bignum", h, bad);
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t threads = 1, n = 2000000, live = 200, seed = 42;
  parse_opts(argc, argv, "t#n#w#s#",
             "bignum [-t threads] [-n operations] [-w long_lived] [-s seed]",
             &threads, &n, &live, &seed);
  need(threads >= 1 && live >= 1, "-t >= 1 and -w >= 1");
  job_t *jobs = xmalloc(threads * sizeof *jobs);
  for (uint64_t t = 0; t < threads; t++) {
    jobs[t] = (job_t){seed + t, n, live, 0};
  }
  run_and_print("bignum", threads, n, run, jobs, sizeof *jobs,
                offsetof(job_t, sum));
  return 0;
}
