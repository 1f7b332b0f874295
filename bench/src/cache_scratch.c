/* cache_scratch: passive false sharing test, after Hoard's cache-scratch.
 *
 * Usage: cache_scratch [-t threads] [-n iterations] [-r writes] [-z size]
 *                      [-s seed]
 *
 * The main thread allocates one small object per worker back to back, so
 * they are likely to share cache lines, and hands one to each worker. A
 * worker frees the object it was given, then repeatedly allocates an
 * object of the same size, writes every byte `writes` times and frees it.
 * An allocator that returns the remotely freed object (or its neighbours)
 * to the worker makes the workers write to the same cache line, and the
 * run slows down sharply with threads; one that gives each thread memory
 * from its own pages does not. At -t 1 there is nothing to share: that run
 * is the baseline for the same work.
 *
 * -s only varies the object size order; the checksum is the sum of the
 * bytes left in each object, independent of interleaving. */
#include "common.h"

typedef struct {
  unsigned char *given;
  uint64_t iters, writes, size;
  uint64_t sum;
} job_t;

static void *run(void *arg) {
  job_t *j = arg;
  free(j->given);
  uint64_t sum = 0;
  for (uint64_t it = 0; it < j->iters; it++) {
    /* volatile: every write must reach memory, as a real shared counter's
     * would, or the compiler folds the loop away. */
    volatile unsigned char *p = xmalloc(j->size);
    for (uint64_t k = 0; k < j->size; k++) {
      p[k] = (unsigned char)k;
    }
    for (uint64_t w = 0; w < j->writes; w++) {
      for (uint64_t k = 0; k < j->size; k++) {
        p[k]++;
      }
    }
    for (uint64_t k = 0; k < j->size; k++) {
      sum += p[k];
    }
    free((void *)p);
  }
  j->sum = sum;
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t threads = 1, iters = 1000, writes = 5000, size = 8, seed = 42;
  parse_opts(argc, argv, "t#n#r#z#s#",
             "cache_scratch [-t threads] [-n iterations] [-r writes] "
             "[-z size] [-s seed]",
             &threads, &iters, &writes, &size, &seed);
  need(threads >= 1 && size >= 1, "-t >= 1 and -z >= 1");
  (void)seed; /* accepted for a uniform command line; nothing is random */
  job_t *jobs = xmalloc(threads * sizeof *jobs);
  /* Allocate all handed-out objects first, in a row, from this thread. */
  for (uint64_t t = 0; t < threads; t++) {
    jobs[t] = (job_t){xmalloc(size), iters, writes, size, 0};
    memset(jobs[t].given, 0, size);
  }
  uint64_t sum =
      run_summed(threads, run, jobs, sizeof *jobs, offsetof(job_t, sum));
  printf("cache_scratch threads=%llu iters=%llu writes=%llu size=%llu "
         "checksum=%016llx\n",
         (unsigned long long)threads, (unsigned long long)iters,
         (unsigned long long)writes, (unsigned long long)size,
         (unsigned long long)sum);
  free(jobs);
  return 0;
}
