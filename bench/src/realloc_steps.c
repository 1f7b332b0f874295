/* realloc_steps: one buffer grown by realloc in many small steps.
 *
 * Usage: realloc_steps [-t threads] [-n repetitions] [-k steps]
 *                      [-M max_bytes] [-s seed]
 *
 * Each repetition starts from malloc(16) and reallocs the buffer `steps`
 * times to sizes growing linearly up to max_bytes (200 steps to 64 KiB by
 * default: ~330 bytes a step), as a program appending records to one
 * exact-fit buffer does; then frees it. An allocator that can grow a block
 * in place (or rounds sizes so that most steps fit) copies little; one
 * that moves the block at every size-class step copies ~the final size
 * times the number of classes crossed. Each step writes a marker byte at
 * the start of the new part and the last byte; all markers are checked
 * before the free, so a realloc that loses or misplaces data is caught. */
#include "common.h"

typedef struct {
  uint64_t seed, n, steps, max;
  uint64_t sum;
} job_t;

static size_t step_size(const job_t *j, uint64_t i) {
  return (size_t)(16 + (j->max - 16) * i / j->steps);
}

static void *run(void *arg) {
  job_t *j = arg;
  rng_t r;
  rng_seed(&r, j->seed);
  uint64_t h = 0, bad = 0;
  for (uint64_t rep = 0; rep < j->n; rep++) {
    unsigned char salt = (unsigned char)rng_next(&r);
    unsigned char *p = xmalloc(16);
    p[0] = salt;
    for (uint64_t i = 1; i <= j->steps; i++) {
      size_t old = step_size(j, i - 1), sz = step_size(j, i);
      unsigned char *q = realloc(p, sz);
      if (q == NULL) {
        fprintf(stderr, "realloc(%zu) failed\n", sz);
        exit(2);
      }
      p = q;
      p[old] = (unsigned char)(salt + i);
      p[sz - 1] = (unsigned char)(salt ^ i);
    }
    for (uint64_t i = 1; i <= j->steps; i++) {
      bad += p[step_size(j, i - 1)] != (unsigned char)(salt + i);
    }
    bad += p[0] != salt ||
           p[step_size(j, j->steps) - 1] != (unsigned char)(salt ^ j->steps);
    h = mix(h, salt);
    free(p);
  }
  j->sum = hash_with_bad("realloc_steps", h, bad);
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t threads = 1, n = 100000, steps = 200, max = 65536, seed = 42;
  parse_opts(argc, argv, "t#n#k#M#s#",
             "realloc_steps [-t threads] [-n repetitions] [-k steps] "
             "[-M max_bytes] [-s seed]",
             &threads, &n, &steps, &max, &seed);
  need(threads >= 1 && steps >= 1 && max >= 16 + steps,
       "-t >= 1, -k >= 1, -M >= 16 + steps");
  job_t *jobs = xmalloc(threads * sizeof *jobs);
  for (uint64_t t = 0; t < threads; t++) {
    jobs[t] = (job_t){seed + t, n, steps, max, 0};
  }
  run_and_print("realloc_steps", threads, n, run, jobs, sizeof *jobs,
                offsetof(job_t, sum));
  return 0;
}
