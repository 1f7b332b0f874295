/* Target: the production allocator under several threads.
 *
 * The program runs on 2-4 threads (config byte). Thread t first runs the
 * ops t, t+n, t+2n, ... on its own slot table; after a barrier it runs the
 * same ops again on the table of thread t+1, so its frees and reallocs hit
 * blocks another thread allocated (remote frees). Threads then exit with
 * blocks still live (their segments get abandoned), and the main thread
 * verifies and frees the rest: frees into abandoned segments.
 *
 * Which thread does what is fixed by the input; only the timing varies, so
 * every check stays exact. One interval set, under a mutex, spans all the
 * tables: overlaps between threads' blocks are caught too. */
#include "sf_model.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct run_s {
  const sf_program_t *prog;
  sf_model_t tables[SF_MAX_TABLES];
  pthread_barrier_t barrier;
} run_t;

typedef struct worker_s {
  run_t *run;
  unsigned index;
  pthread_t thread;
} worker_t;

static void replay_share(run_t *run, sf_model_t *m, unsigned first) {
  const sf_program_t *prog = run->prog;
  for (size_t i = first; i < prog->count; i += prog->threads)
    sf_exec(m, &prog->ops[i], i);
}

static void *worker(void *arg) {
  worker_t *w = arg;
  run_t *run = w->run;
  unsigned n = run->prog->threads;
  replay_share(run, &run->tables[w->index], w->index);
  pthread_barrier_wait(&run->barrier);
  replay_share(run, &run->tables[(w->index + 1) % n], w->index);
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sf_program_t *prog = sf_decode_new(data, size);
  run_t *run = malloc(sizeof *run);
  if (prog == NULL || run == NULL) {
    free(prog);
    free(run);
    return 0;
  }
  run->prog = prog;
  unsigned n = prog->threads;

  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  sf_intervals_t iv = {.lock = &lock, .count = 0};
  for (unsigned t = 0; t < n; t++)
    sf_model_init(&run->tables[t], t, &iv, NULL);
  sf_baseline(&run->tables[0]);
  pthread_barrier_init(&run->barrier, NULL, n);

  worker_t workers[SF_MAX_TABLES];
  for (unsigned t = 0; t < n; t++) {
    workers[t].run = run;
    workers[t].index = t;
    if (pthread_create(&workers[t].thread, NULL, worker, &workers[t]) != 0)
      sf_fail(0, "setup", "pthread_create failed");
  }
  for (unsigned t = 0; t < n; t++)
    pthread_join(workers[t].thread, NULL);
  pthread_barrier_destroy(&run->barrier);

  for (unsigned t = 0; t < n; t++) {
    sf_verify_all(&run->tables[t], prog->count);
    sf_free_all(&run->tables[t], prog->count);
  }
  sf_final_checks(&run->tables[0], prog->count);
  free(run);
  free(prog);
  return 0;
}
