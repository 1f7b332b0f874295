/* fork() while other threads allocate: the child must find the allocator
 * usable (no lock held by a thread that doesn't exist in the child), free
 * blocks the parent allocated, start threads of its own, and see a
 * consistent heap. A deadlocked child is killed by its alarm and fails. */
#include "tests/test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

enum {
  BUSY_THREADS = 3,
  /* Each fork costs a copy of every page written afterwards (see
   * small_size); the debug build writes more (poison, quarantine). */
  FORKS = SEGALLOC_TEST_DEBUG ? 6 : 20,
  PARENT_BLOCKS = 64,
  CHILD_TIMEOUT = 20, /* seconds */
};

/* Child exit codes: which step went wrong. */
enum {
  CHILD_OK,
  CHILD_BAD_PARENT_BLOCK,
  CHILD_ALLOC_FAILED,
  CHILD_BAD_OWN_BLOCK,
  CHILD_THREAD_FAILED,
  CHILD_HEAP_BROKEN,
};

static atomic_bool stop_busy;
static atomic_bool parent_blocks_ready; /* busy thread 0 made its share */
static _Atomic uint64_t busy_errors;

/* Blocks allocated before any fork: by the main thread, and by a busy
 * thread (so in the child their owner heap belongs to no thread). */
static void *parent_blocks[PARENT_BLOCKS];
static size_t parent_sizes[PARENT_BLOCKS];

/* After a fork every page the parent or the child writes is copied, and
 * in a multi-threaded parent each copy costs a TLB shootdown: keep the
 * memory touched after each fork small, or the test is all page faults. */
static size_t small_size(rng_t *rng) {
  return rng_size(rng, 0) % (8 * KiB);
}

static void *busy(void *arg) {
  rng_t rng = rng_new((uint64_t)(uintptr_t)arg);
  enum { SLOTS = 64 };
  void *slot[SLOTS] = {0};
  size_t size[SLOTS] = {0};
  int index = (int)(uintptr_t)arg;
  /* Busy thread 0 allocates half of the parent blocks. */
  if (index == 0) {
    for (int i = PARENT_BLOCKS / 2; i < PARENT_BLOCKS; i++) {
      parent_sizes[i] = rng_size(&rng, 20);
      parent_blocks[i] = segalloc_malloc(parent_sizes[i]);
      if (parent_blocks[i] == NULL)
        atomic_fetch_add(&busy_errors, 1);
      else
        pattern_fill(parent_blocks[i], parent_sizes[i], (uint32_t)i);
    }
    atomic_store(&parent_blocks_ready, true);
  }
  while (!atomic_load(&stop_busy)) {
    size_t i = rng_below(&rng, SLOTS);
    if (slot[i] != NULL) {
      if (pattern_apply(slot[i], size[i], size[i], (uint32_t)i, false) !=
          SIZE_MAX)
        atomic_fetch_add(&busy_errors, 1);
      segalloc_free(slot[i]);
    }
    size[i] = small_size(&rng);
    slot[i] = segalloc_malloc(size[i]);
    if (slot[i] == NULL)
      atomic_fetch_add(&busy_errors, 1);
    else
      pattern_fill(slot[i], size[i], (uint32_t)i);
  }
  for (int i = 0; i < SLOTS; i++)
    segalloc_free(slot[i]);
  return NULL;
}

static void *child_thread(void *arg) {
  (void)arg;
  rng_t rng = rng_new(99);
  for (int i = 0; i < 2000; i++) {
    /* Every size range once in a while; mostly small ones. */
    size_t n = i % 100 == 0 ? rng_size(&rng, 100) : small_size(&rng);
    void *p = segalloc_malloc(n);
    if (p == NULL)
      return (void *)1;
    pattern_fill(p, n, 5);
    if (pattern_apply(p, n, n, 5, false) != SIZE_MAX)
      return (void *)1;
    segalloc_free(p);
  }
  return NULL;
}

/* What the child does; its exit status says whether it all worked. */
static int child_main(int round) {
  alarm(CHILD_TIMEOUT);
  /* The parent's blocks are intact, and ours to free. Some, not all, so
   * the parent's heap is exercised in different states. */
  for (int i = round % 2; i < PARENT_BLOCKS; i += 2) {
    if (pattern_apply(parent_blocks[i], parent_sizes[i], parent_sizes[i],
                      (uint32_t)i, false) != SIZE_MAX)
      return CHILD_BAD_PARENT_BLOCK;
    segalloc_free(parent_blocks[i]);
  }
  rng_t rng = rng_new((uint64_t)round);
  enum { N = 500 };
  void *p[N];
  size_t n[N];
  for (int i = 0; i < N; i++) {
    n[i] = i % 50 == 0 ? rng_size(&rng, 100) : small_size(&rng);
    p[i] = segalloc_malloc(n[i]);
    if (p[i] == NULL)
      return CHILD_ALLOC_FAILED;
    pattern_fill(p[i], n[i], (uint32_t)i);
  }
  pthread_t t;
  void *thread_result = (void *)1;
  if (pthread_create(&t, NULL, child_thread, NULL) != 0 ||
      pthread_join(t, &thread_result) != 0 || thread_result != NULL)
    return CHILD_THREAD_FAILED;
  for (int i = 0; i < N; i++) {
    if (pattern_apply(p[i], n[i], n[i], (uint32_t)i, false) != SIZE_MAX)
      return CHILD_BAD_OWN_BLOCK;
    segalloc_free(p[i]);
  }
  heap_settle();
  if (segalloc_check_heap() != 0)
    return CHILD_HEAP_BROKEN;
  return CHILD_OK;
}

Test(fork, fork_while_threads_allocate, .timeout = 50) {
  rng_t rng = rng_new(1);
  for (int i = 0; i < PARENT_BLOCKS / 2; i++) {
    parent_sizes[i] = rng_size(&rng, 20);
    parent_blocks[i] = segalloc_malloc(parent_sizes[i]);
    cr_assert_not_null(parent_blocks[i]);
    pattern_fill(parent_blocks[i], parent_sizes[i], (uint32_t)i);
  }
  pthread_t t[BUSY_THREADS];
  for (int i = 0; i < BUSY_THREADS; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, busy, (void *)(uintptr_t)i), 0);
  /* Wait until busy thread 0 has made its share of the parent blocks. */
  while (!atomic_load(&parent_blocks_ready))
    sched_yield();
  for (int round = 0; round < FORKS; round++) {
    /* The parent keeps allocating between forks too. */
    void *mine = segalloc_malloc(rng_size(&rng, 5));
    cr_assert_not_null(mine);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0)
      _exit(child_main(round));
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status),
              "fork %d: child died (signal %d; SIGALRM = deadlock)", round,
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), CHILD_OK,
                 "fork %d: child failed, step %d", round, WEXITSTATUS(status));
    segalloc_free(mine);
  }
  atomic_store(&stop_busy, true);
  for (int i = 0; i < BUSY_THREADS; i++)
    cr_assert_eq(pthread_join(t[i], NULL), 0);
  cr_assert_eq(atomic_load(&busy_errors), 0);
  /* The parent's blocks were untouched by the children's frees. */
  for (int i = 0; i < PARENT_BLOCKS; i++) {
    pattern_assert(parent_blocks[i], parent_sizes[i], parent_sizes[i],
                   (uint32_t)i);
    segalloc_free(parent_blocks[i]);
  }
  heap_assert_ok();
}

/* A child that forks again (a grandchild) while its own thread runs. */
static void *spin_alloc(void *arg) {
  atomic_bool *stop = arg;
  while (!atomic_load(stop))
    segalloc_free(segalloc_malloc(64));
  return NULL;
}

static int nested_child(void) {
  alarm(CHILD_TIMEOUT);
  atomic_bool stop = false;
  pthread_t t;
  if (pthread_create(&t, NULL, spin_alloc, &stop) != 0)
    return CHILD_THREAD_FAILED;
  for (int i = 0; i < 10; i++) {
    pid_t pid = fork();
    if (pid == 0)
      _exit(child_main(i));
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != CHILD_OK)
      return CHILD_THREAD_FAILED;
  }
  atomic_store(&stop, true);
  pthread_join(t, NULL);
  return segalloc_check_heap() == 0 ? CHILD_OK : CHILD_HEAP_BROKEN;
}

Test(fork, nested_forks, .timeout = 50) {
  for (int i = 0; i < PARENT_BLOCKS; i++) {
    parent_sizes[i] = 100 + (size_t)i * 1000;
    parent_blocks[i] = segalloc_malloc(parent_sizes[i]);
    cr_assert_not_null(parent_blocks[i]);
    pattern_fill(parent_blocks[i], parent_sizes[i], (uint32_t)i);
  }
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0)
    _exit(nested_child());
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == CHILD_OK,
            "child status 0x%x", status);
  for (int i = 0; i < PARENT_BLOCKS; i++)
    segalloc_free(parent_blocks[i]);
  heap_assert_ok();
}
