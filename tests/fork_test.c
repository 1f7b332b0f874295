/* fork() while other threads allocate: the child must find the allocator
 * usable (no lock held by a thread that doesn't exist in the child), free
 * blocks the parent allocated, start threads of its own, and see a
 * consistent heap. A deadlocked child is killed by its alarm and fails. */
#include "tests/test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
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

/* Waits for the child of fork `round`: it must exit with CHILD_OK. */
static void assert_child_ok(pid_t pid, int round) {
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status),
            "fork %d: child died (signal %d; SIGALRM = deadlock or hang)",
            round, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  cr_assert_eq(WEXITSTATUS(status), CHILD_OK, "fork %d: child failed, step %d",
               round, WEXITSTATUS(status));
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
    assert_child_ok(pid, round);
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

/* fork() while other threads free the main thread's blocks (remote
 * frees): a remote free into a full page first marks it NOTIFYING, tells
 * the owner heap, then publishes its block. A fork in between leaves the
 * page NOTIFYING in the child, with no thread to end it; the child must
 * still allocate and free across those pages, pass the heap check, and
 * exit its main thread (abandoning its heap waits for every notifier:
 * one that never ends is a hang, killed by the alarm). The window is a
 * few instructions: on a loaded 2-core machine 1 to 3 forks in 100 land
 * in it (counted with a probe in fork_child); without the child's fix-up
 * (_sa_page_after_fork) the test failed by a hang at fork 19. */
enum {
  HANDOFF_FREERS = 2,
  HANDOFF_SLOTS = 4096,
  HANDOFF_FORKS = SEGALLOC_TEST_DEBUG ? 40 : 100,
  /* One class, few blocks a page: pages go full often, and the first
   * remote free into each notifies. */
  HANDOFF_SIZE = 4096,
  HANDOFF_PATTERN = 64,
};

/* Blocks of the main thread waiting to be freed by a freer; NULL: empty.
 * Each round the main thread fills every slot, lets the freers go and
 * forks once they are under way, so the fork lands among their frees. */
static void *_Atomic handoff[HANDOFF_SLOTS];
static _Atomic int handoff_round;    /* the round the freers may free */
static _Atomic int freers_done;      /* freers done with the current round */
static _Atomic size_t handoff_freed; /* blocks the freers freed, in all */
static atomic_bool stop_freers;

static void *freer(void *arg) {
  size_t first = (size_t)(uintptr_t)arg;
  for (int round = 1;; round++) {
    while (atomic_load(&handoff_round) < round && !atomic_load(&stop_freers))
      sched_yield();
    if (atomic_load(&stop_freers))
      return NULL;
    /* A block from each page first (16 blocks of 4 KiB fill a 64 KiB
     * page), so that the first frees of a round all notify. */
    for (size_t k = first; k < HANDOFF_SLOTS; k += HANDOFF_FREERS) {
      size_t i = k % (HANDOFF_SLOTS / 16) * 16 + k / (HANDOFF_SLOTS / 16);
      segalloc_free(atomic_exchange(&handoff[i], NULL));
      atomic_fetch_add(&handoff_freed, 1);
      for (volatile int spin = 0; spin < 500; spin++) /* spread the frees */
        ;
    }
    atomic_fetch_add(&freers_done, 1);
  }
}

static int handoff_child(void) {
  alarm(CHILD_TIMEOUT);
  /* The blocks no freer took before the fork are still live here: ours. */
  for (size_t i = 0; i < HANDOFF_SLOTS; i++) {
    void *p = atomic_exchange(&handoff[i], NULL);
    if (p != NULL)
      segalloc_free(p);
  }
  /* Through the same class's pages, full ones included. */
  enum { N = HANDOFF_SLOTS / 2 };
  static void *mine[N];
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < N; i++) {
      mine[i] = segalloc_malloc(HANDOFF_SIZE);
      if (mine[i] == NULL)
        _exit(CHILD_ALLOC_FAILED);
      pattern_fill(mine[i], HANDOFF_PATTERN, 9);
    }
    for (int i = 0; i < N; i++) {
      if (pattern_apply(mine[i], HANDOFF_PATTERN, HANDOFF_PATTERN, 9, false) !=
          SIZE_MAX)
        _exit(CHILD_BAD_OWN_BLOCK);
      segalloc_free(mine[i]);
    }
  }
  heap_settle();
  if (segalloc_check_heap() != 0)
    _exit(CHILD_HEAP_BROKEN);
  /* The main thread's exit abandons its heap (thread-exit destructor);
   * then the process exits with status 0. */
  pthread_exit(NULL);
}

Test(fork, fork_during_remote_frees, .timeout = 120) {
  pthread_t t[HANDOFF_FREERS];
  for (int i = 0; i < HANDOFF_FREERS; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, freer, (void *)(uintptr_t)i), 0);
  for (int round = 1; round <= HANDOFF_FORKS; round++) {
    /* New blocks fill pages, which go full; the first of the freers'
     * frees into each notifies. */
    while (atomic_load(&freers_done) < (round - 1) * HANDOFF_FREERS)
      sched_yield();
    for (size_t i = 0; i < HANDOFF_SLOTS; i++) {
      void *p = segalloc_malloc(HANDOFF_SIZE);
      cr_assert_not_null(p);
      /* Done with the block's memory (as a program may say of a buffer):
       * the free's write into it faults, and during a fork waits for it
       * to end, which holds the page NOTIFYING across the fork. */
      if (((uintptr_t)p & 4095) == 0)
        cr_assert_eq(madvise(p, HANDOFF_SIZE, MADV_DONTNEED), 0);
      atomic_store(&handoff[i], p);
    }
    fflush(NULL);
    size_t freed = atomic_load(&handoff_freed);
    atomic_store(&handoff_round, round);
    while (atomic_load(&handoff_freed) < freed + 16)
      sched_yield(); /* the freers are under way */
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0)
      handoff_child();
    assert_child_ok(pid, round);
  }
  while (atomic_load(&freers_done) < HANDOFF_FORKS * HANDOFF_FREERS)
    sched_yield();
  atomic_store(&stop_freers, true);
  for (int i = 0; i < HANDOFF_FREERS; i++)
    cr_assert_eq(pthread_join(t[i], NULL), 0);
  cr_assert_eq(atomic_load(&busy_errors), 0);
  heap_assert_ok();
}
