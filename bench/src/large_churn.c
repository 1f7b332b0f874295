/* large_churn: large-block churn around the mmap threshold.
 *
 * Usage: large_churn [-t threads] [-n ops_per_thread] [-w live]
 *                    [-m min_kib] [-M max_kib] [-x pages|ends|all] [-d
 * log|uniform]
 *                    [-s seed]
 *
 * Each thread keeps `live` blocks of 64 KiB..1 MiB (log-uniform) and
 * replaces a random one each step, writing one byte per 4 KiB page of the
 * new block as a program filling a buffer would. This is where allocators
 * differ most in system calls and page faults: glibc's mmap threshold
 * (128 KiB, raised dynamically), caching of freed spans vs returning them
 * to the OS at once, and huge-page or segment granularity. The page
 * touches make those costs visible in wall time and peak RSS.
 *
 * -x ends writes only the first 64 bytes and the last byte of each block,
 * as a program does that allocates a buffer larger than it fills (a read
 * buffer, a hash table, a C++ vector's reserve): then an allocator that
 * keeps freed memory mapped costs no page faults at all, and one that
 * returns it and maps it again pays them on every block. Run with
 * 100 KiB..2.1 MiB (across a 1 MiB huge-block threshold). -x all fills
 * every byte, as C++'s make_unique<char[]>(n) does in mimalloc-bench's
 * malloc-large (20 buffers of 5..25 MiB, uniform: -d uniform). */
#include "common.h"

#define PAGE 4096
#define HEAD 64 /* bytes written at the start with -x ends */

enum { PAGES, ENDS, ALL };
static int touch = PAGES; /* -x */
static int uniform;       /* -d uniform */

typedef struct {
  uint64_t seed, n, live, min, max;
  uint64_t sum;
} job_t;

static size_t pick_size(rng_t *r, const void *ctx) {
  const job_t *j = ctx;
  return rng_size(r, j->min, j->max, uniform);
}

/* The page loop stops before the last byte, which holds the stamp tag;
 * with -x ends, bytes 16..63 after the 16-byte stamp stand for the head;
 * -x all fills everything between the stamp and the last byte. */
static void fill(void *block, size_t sz, uint64_t tag) {
  unsigned char *p = block;
  stamp_write(p, sz, tag);
  if (touch == ALL) {
    memset(p + sizeof(stamp_t), (int)(tag >> 8) & 0xff,
           sz - 1 - sizeof(stamp_t));
    return;
  }
  if (touch == ENDS) {
    memset(p + sizeof(stamp_t), (int)(tag >> 8) & 0xff, HEAD - sizeof(stamp_t));
    return;
  }
  for (size_t off = PAGE; off + 1 < sz; off += PAGE) {
    p[off] = (unsigned char)(tag >> 8);
  }
}

static int check(const void *block, size_t sz, uint64_t tag) {
  const unsigned char *p = block;
  int ok = stamp_ok(p, sz, tag);
  if (touch == ALL) { /* spot checks: a full read would double the work */
    for (size_t off = sizeof(stamp_t); off + 1 < sz; off += PAGE) {
      ok &= p[off] == (unsigned char)(tag >> 8);
    }
    return ok;
  }
  if (touch == ENDS) {
    for (size_t off = sizeof(stamp_t); off < HEAD; off++) {
      ok &= p[off] == (unsigned char)(tag >> 8);
    }
    return ok;
  }
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
  const char *x = "pages", *d = "log";
  parse_opts(argc, argv, "t#n#w#m#M#x$d$s#",
             "large_churn [-t threads] [-n ops_per_thread] [-w live] "
             "[-m min_kib] [-M max_kib] [-x pages|ends|all] [-d log|uniform] "
             "[-s seed]",
             &threads, &n, &live, &min, &max, &x, &d, &seed);
  touch = strcmp(x, "ends") == 0 ? ENDS : strcmp(x, "all") == 0 ? ALL : PAGES;
  uniform = strcmp(d, "uniform") == 0;
  need(touch != PAGES || strcmp(x, "pages") == 0, "-x pages, ends or all");
  need(uniform || strcmp(d, "log") == 0, "-d log or -d uniform");
  need(threads >= 1 && live >= 1 && min >= 1 && max >= min,
       "-t >= 1, -w >= 1, 1 <= -m <= -M");
  job_t *jobs = xmalloc(threads * sizeof *jobs);
  for (uint64_t t = 0; t < threads; t++) {
    jobs[t] = (job_t){seed + t, n, live, min * 1024, max * 1024, 0};
  }
  run_and_print("large_churn", threads, n, run, jobs, sizeof *jobs,
                offsetof(job_t, sum));
  return 0;
}
