/* realloc_grow: mixed sizes with heavy realloc growth.
 *
 * Usage: realloc_grow [-t threads] [-n appends] [-b builders] [-M max_len]
 *                     [-s seed]
 *
 * Keeps `builders` growing buffers alive at once and appends 1..64 byte
 * chunks to a randomly chosen one, so reallocs of many buffers interleave
 * (in-place growth is only possible if the allocator left room). Each
 * buffer has a random final length (log-uniform 16 B .. max_len) and a
 * growth policy:
 *   - exact:    realloc on every append (naive string concatenation), only
 *               for buffers that end at most 4 KiB, to keep copying bounded;
 *   - doubling: capacity *= 2 (vector / string builder);
 *   - 1.5x:     capacity += capacity / 2 (another common vector policy).
 * Small short-lived temporaries are allocated in between to fragment the
 * heap as real code does. A finished buffer is hashed (which checks that
 * realloc preserved its contents) and freed. Threads work independently. */
#include "common.h"

typedef struct {
  unsigned char *buf;
  size_t len, cap, target;
  int policy; /* 0 exact, 1 doubling, 2 1.5x */
} builder_t;

typedef struct {
  uint64_t seed, n, nb, maxlen;
  uint64_t sum;
} job_t;

static void builder_start(builder_t *b, rng_t *r, uint64_t maxlen) {
  unsigned maxbits = 4;
  while (((uint64_t)1 << (maxbits + 1)) <= maxlen) {
    maxbits++;
  }
  unsigned bits = (unsigned)rng_range(r, 4, maxbits);
  b->target =
      (size_t)rng_range(r, (uint64_t)1 << bits, ((uint64_t)1 << bits) * 2 - 1);
  if (b->target > maxlen) {
    b->target = maxlen;
  }
  b->policy =
      b->target <= 4096 ? (int)rng_range(r, 0, 2) : (int)rng_range(r, 1, 2);
  b->len = 0;
  b->cap = b->policy == 0 ? 0 : 16;
  b->buf = b->cap ? xmalloc(b->cap) : NULL;
}

/* Hash of the finished contents, word at a time to keep it cheap. */
static uint64_t builder_hash(const builder_t *b) {
  uint64_t h = b->len, w;
  size_t i = 0;
  for (; i + 8 <= b->len; i += 8) {
    memcpy(&w, b->buf + i, 8);
    h = (h ^ w) * 0x100000001B3ull;
  }
  for (; i < b->len; i++) {
    h = (h ^ b->buf[i]) * 0x100000001B3ull;
  }
  return h;
}

static void append(builder_t *b, rng_t *r) {
  size_t add = (size_t)rng_range(r, 1, 64);
  if (b->len + add > b->target) {
    add = b->target - b->len;
  }
  size_t need = b->len + add;
  if (need > b->cap) {
    size_t cap = b->cap;
    if (b->policy == 0) {
      cap = need;
    } else {
      while (cap < need) {
        cap = b->policy == 1 ? cap * 2 : cap + cap / 2 + 1;
      }
    }
    unsigned char *nb = realloc(b->buf, cap);
    if (nb == NULL) {
      fprintf(stderr, "realloc(%zu) failed\n", cap);
      exit(2);
    }
    b->buf = nb;
    b->cap = cap;
  }
  memset(b->buf + b->len, (int)(rng_next(r) & 0xff), add);
  b->len = need;
}

static void *run(void *arg) {
  job_t *j = arg;
  rng_t r;
  rng_seed(&r, j->seed);
  builder_t *bs = xmalloc(j->nb * sizeof *bs);
  for (uint64_t i = 0; i < j->nb; i++) {
    builder_start(&bs[i], &r, j->maxlen);
  }
  uint64_t h = 0;
  void *tmp[16] = {0};
  for (uint64_t step = 0; step < j->n; step++) {
    builder_t *b = &bs[rng_range(&r, 0, j->nb - 1)];
    append(b, &r);
    if (b->len == b->target) {
      h += builder_hash(b);
      free(b->buf);
      builder_start(b, &r, j->maxlen);
    }
    /* A temporary every few steps, freed a while later. */
    if ((step & 3) == 0) {
      unsigned k = (unsigned)(rng_next(&r) & 15);
      free(tmp[k]);
      size_t sz = (size_t)rng_range(&r, 16, 256);
      tmp[k] = xmalloc(sz);
      memset(tmp[k], 0, sz);
    }
  }
  for (uint64_t i = 0; i < j->nb; i++) {
    h += builder_hash(&bs[i]);
    free(bs[i].buf);
  }
  for (unsigned k = 0; k < 16; k++) {
    free(tmp[k]);
  }
  free(bs);
  j->sum = h;
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t threads = 1, n = 5000000, nb = 64, maxlen = 256 * 1024, seed = 42;
  parse_opts(argc, argv, "t#n#b#M#s#",
             "realloc_grow [-t threads] [-n appends] [-b builders] "
             "[-M max_len] [-s seed]",
             &threads, &n, &nb, &maxlen, &seed);
  need(threads >= 1 && nb >= 1 && maxlen >= 32, "-t >= 1, -b >= 1, -M >= 32");
  job_t *jobs = xmalloc(threads * sizeof *jobs);
  for (uint64_t t = 0; t < threads; t++) {
    jobs[t] = (job_t){seed + t, n, nb, maxlen, 0};
  }
  run_and_print("realloc_grow", threads, n, run, jobs, sizeof *jobs,
                offsetof(job_t, sum));
  return 0;
}
