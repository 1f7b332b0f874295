/* Backtraces of the debug build (debug/src/stack.c): an id taken through
 * the thread's cache always names what a fresh walk of the stack finds;
 * the same call path gives the same id, another path another id, even
 * when only a frame above the first differs; a caller without frame
 * pointers ends the trace; from several threads at once and in a forked
 * child too. */
#include "debug.h"
#include "segalloc_debug.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

static void init(void) {
  segalloc_free(segalloc_malloc(1)); /* the depot is made at init */
}

TestSuite(stack, .init = init);

/* Kept from being inlined, merged or tail-called: each a frame. */
static volatile int sink;

typedef struct taken_s {
  uint32_t id;
  const void *frame; /* where the backtrace started */
  bool walked;       /* the id's frames are those of a fresh walk */
} taken_t;

/* The id of the backtrace from a frame of the caller's, compared with a
 * fresh walk from the same frame. No assert: threads call it. */
static __attribute__((noinline)) taken_t take(size_t depth, const void *frame) {
  taken_t t = {_sa_dbg_stack_capture(depth, frame), frame, true};
  const void *walked[SA_DBG_TRACE_DEPTH] = {0};
  _sa_dbg_backtrace(walked, depth, frame);
  const void *const *stored = _sa_dbg_stack_frames(t.id);
  for (size_t i = 0; i < SA_DBG_TRACE_DEPTH; i++)
    t.walked &= stored != NULL && stored[i] == walked[i];
  return t;
}

static __attribute__((noinline)) taken_t leaf(size_t depth) {
  taken_t t = take(depth, __builtin_frame_address(0));
  sink = 0;
  return t;
}

static __attribute__((noinline)) taken_t mid(size_t depth) {
  taken_t t = leaf(depth);
  sink = 1;
  return t;
}

/* Two paths to mid, alike but for their return addresses: the backtraces
 * from leaf start at the same address, with the same first return address
 * (into mid); only the second differs. */
#define PATH(name, mark)                                                       \
  static __attribute__((noinline)) taken_t name(size_t depth) {                \
    taken_t t = mid(depth);                                                    \
    sink = mark;                                                               \
    return t;                                                                  \
  }
PATH(path_a, 2)
PATH(path_b, 3)

/* Both paths, from one place each: up to SA_DBG_TRACE_DEPTH frames from
 * leaf lie in mid, path_a or path_b, both, and the nested wrappers, each
 * calling the next from one place (no loop a compiler could unroll or
 * peel, which would make two call sites of one). */
static __attribute__((noinline)) void both(size_t depth, taken_t out[2]) {
  out[0] = path_a(depth);
  out[1] = path_b(depth);
  sink = 4;
}

static __attribute__((noinline)) void nested(size_t depth, taken_t out[2]) {
  both(depth, out);
  sink = 5;
}

static __attribute__((noinline)) void nested_twice(size_t depth,
                                                   taken_t out[2]) {
  nested(depth, out);
  sink = 6;
}

typedef struct ids_s {
  uint32_t a[2], b[2]; /* [0]: SA_DBG_FREE_DEPTH, [1]: SA_DBG_TRACE_DEPTH */
  int unwalked;        /* ids whose frames a fresh walk didn't find */
  int changed;         /* ids unlike the first round's */
  int apart;           /* paths whose backtraces started apart */
} ids_t;

/* Both paths at both depths, `rounds` times over. */
static ids_t take_paths(int rounds) {
  ids_t ids = {{0}, {0}, 0, 0, 0};
  for (int r = 0; r < rounds; r++) {
    for (int d = 0; d < 2; d++) {
      taken_t t[2];
      nested_twice(d ? SA_DBG_TRACE_DEPTH : SA_DBG_FREE_DEPTH, t);
      if (r == 0) {
        ids.a[d] = t[0].id;
        ids.b[d] = t[1].id;
      }
      ids.unwalked += !t[0].walked + !t[1].walked;
      ids.changed += (t[0].id != ids.a[d]) + (t[1].id != ids.b[d]);
      ids.apart += t[0].frame != t[1].frame;
    }
  }
  return ids;
}

static void assert_ids(const ids_t *ids) {
  cr_assert_eq(ids->apart, 0, "the paths' frames differ: no test");
  cr_assert_eq(ids->unwalked, 0, "%d ids unlike a fresh walk", ids->unwalked);
  cr_assert_eq(ids->changed, 0, "%d ids changed", ids->changed);
  const uint32_t all[4] = {ids->a[0], ids->a[1], ids->b[0], ids->b[1]};
  for (int i = 0; i < 4; i++) {
    cr_assert_neq(all[i], 0);
    for (int j = 0; j < i; j++)
      cr_assert_neq(all[i], all[j], "two backtraces, one id %u", all[i]);
  }
  const void *const *a = _sa_dbg_stack_frames(ids->a[1]);
  const void *const *b = _sa_dbg_stack_frames(ids->b[1]);
  cr_assert_eq(a[0], b[0], "both paths start in mid");
  cr_assert_neq(a[1], b[1], "the paths return to different functions");
}

Test(stack, same_path_same_id_other_path_other_id) {
  ids_t ids = take_paths(1000);
  assert_ids(&ids);
}

/* Stack frames made by hand: frame[1] a return address, frame[0] the link
 * on; "code" is any address above 4096, as return addresses are. */
Test(stack, link_leading_nowhere_ends_the_trace) {
  uintptr_t fake[8] = {0};
  const uintptr_t code = (uintptr_t)&take, code2 = (uintptr_t)&leaf;
  uintptr_t *top = &fake[4]; /* a second frame, higher */
  top[0] = 0;
  top[1] = code2;
  fake[1] = code;
  /* Links a caller without frame pointers leaves: its own data. */
  const uintptr_t nowhere[] = {0,
                               1,
                               (uintptr_t)fake - 16,
                               (uintptr_t)fake + 4,
                               (uintptr_t)&sink,
                               ~(uintptr_t)0};
  uint32_t one = 0;
  for (int r = 0; r < 3; r++) {
    for (size_t i = 0; i < sizeof(nowhere) / sizeof(nowhere[0]); i++) {
      fake[0] = nowhere[i];
      taken_t t = take(SA_DBG_TRACE_DEPTH, fake);
      cr_assert(t.walked, "link %#lx: not what a walk finds", (long)nowhere[i]);
      if (one == 0)
        one = t.id;
      cr_assert_eq(t.id, one, "link %#lx: id %u, not %u", (long)nowhere[i],
                   t.id, one);
      cr_assert_null(_sa_dbg_stack_frames(t.id)[1]);
    }
    /* A link to a frame: the trace goes on, cached or not. */
    fake[0] = (uintptr_t)top;
    taken_t two = take(SA_DBG_TRACE_DEPTH, fake);
    cr_assert(two.walked);
    cr_assert_neq(two.id, one);
    cr_assert_eq(_sa_dbg_stack_frames(two.id)[1], (const void *)code2);
    /* ... unless that frame's return address is none. */
    top[1] = 5;
    taken_t none = take(SA_DBG_TRACE_DEPTH, fake);
    cr_assert(none.walked);
    cr_assert_eq(none.id, one);
    top[1] = code2;
  }
}

#define THREADS 4

static void *take_in_thread(void *arg) {
  segalloc_free(segalloc_malloc(1)); /* the thread's registry: its cache */
  *(ids_t *)arg = take_paths(2000);
  return NULL;
}

Test(stack, threads_agree, .timeout = 60) {
  pthread_t tid[THREADS];
  ids_t ids[THREADS];
  for (int i = 0; i < THREADS; i++)
    cr_assert_eq(pthread_create(&tid[i], NULL, take_in_thread, &ids[i]), 0);
  for (int i = 0; i < THREADS; i++)
    pthread_join(tid[i], NULL);
  /* The threads' stacks differ, their return addresses don't. */
  for (int i = 0; i < THREADS; i++) {
    assert_ids(&ids[i]);
    cr_assert_eq(memcmp(&ids[i], &ids[0], sizeof(ids[0])), 0,
                 "thread %d's ids differ from thread 0's", i);
  }
}

/* The child takes the backtraces the parent took (its cache holds them)
 * and finds the same ids. */
Test(stack, fork_keeps_ids, .timeout = 60) {
  ids_t before = take_paths(10);
  assert_ids(&before);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    ids_t after = take_paths(10);
    _exit(memcmp(&after, &before, sizeof(before)) == 0 ? 0 : 1);
  }
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "the child's ids differ (status %#x)", status);
}
