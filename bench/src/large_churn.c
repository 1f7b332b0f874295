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

#define PAGE 4096

typedef struct {
  uint64_t seed, n, live, min, max;
  uint64_t sum;
} job_t;

static size_t pick_size(rng_t *r, const void *ctx) {
  const job_t *j = ctx;
  uint64_t min = j->min, max = j->max;
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
static void fill(void *block, size_t sz, uint64_t tag) {
  unsigned char *p = block;
  stamp_write(p, sz, tag);
  for (size_t off = PAGE; off + 1 < sz; off += PAGE) {
    p[off] = (unsigned char)(tag >> 8);
  }
}

static int check(const void *block, size_t sz, uint64_t tag) {
  const unsigned char *p = block;
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
  uint64_t bad = 0;
  const block_kind_t large = {pick_size, fill, check, j};
  uint64_t h = replace_random(&r, j->live, j->n, &large, &bad);
  j->sum = hash_with_bad("large_churn", h, bad);
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t threads = 1, n = 100000, live = 32, min = 64, max = 1024, seed = 42;
  parse_opts(argc, argv, "t#n#w#m#M#s#",
             "large_churn [-t threads] [-n ops_per_thread] [-w live] "
             "[-m min_kib] [-M max_kib] [-s seed]",
             &threads, &n, &live, &min, &max, &seed);
  need(threads >= 1 && live >= 1 && min >= 1 && max >= min,
       "-t >= 1, -w >= 1, 1 <= -m <= -M");
  job_t *jobs = xmalloc(threads * sizeof *jobs);
  for (uint64_t t = 0; t < threads; t++) {
    jobs[t] = (job_t){seed + t, n, live, min * 1024, max * 1024, 0};
  }
  uint64_t sum =
      run_summed(threads, run, jobs, sizeof *jobs, offsetof(job_t, sum));
  print_result("large_churn", threads, n, sum);
  free(jobs);
  return 0;
}
