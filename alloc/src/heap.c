/* Thread heaps: one per thread, found through a thread-local pointer, made
 * on the thread's first malloc and handed back (its segments abandoned) when
 * the thread exits. Also the one-time init and the fork handlers. */
#include "hooks.h"

#include <sched.h>
#include <string.h>

__thread sa_heap_t *_sa_tls_heap __attribute__((tls_model("initial-exec"))) =
    &_sa_heap_empty;
sa_heap_t _sa_heap_empty;

pthread_mutex_t _sa_heaps_lock = PTHREAD_MUTEX_INITIALIZER;
static sa_heap_t *sa_heap_pool; /* recycled heaps, guarded by that lock */
static uint8_t *sa_heap_chunk;  /* where the next new heap is carved */
static size_t sa_heap_chunk_left;

static pthread_key_t sa_heap_key;
static _Atomic int sa_init_state; /* 0 not started, 1 running, 2 done */
static __thread bool sa_in_init;

static void fork_prepare(void) {
  pthread_mutex_lock(&_sa_heaps_lock);
  pthread_mutex_lock(&_sa_segments_lock);
  pthread_mutex_lock(&_sa_huge_lock);
}

static void fork_parent(void) {
  pthread_mutex_unlock(&_sa_huge_lock);
  pthread_mutex_unlock(&_sa_segments_lock);
  pthread_mutex_unlock(&_sa_heaps_lock);
}

/* The child's thread has a new id, so it can't unlock what its parent
 * locked (a recursive mutex checks the owner): start the locks afresh. */
static void fork_child(void) {
  pthread_mutexattr_t recursive;
  pthread_mutexattr_init(&recursive);
  pthread_mutexattr_settype(&recursive, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&_sa_huge_lock, NULL);
  pthread_mutex_init(&_sa_segments_lock, &recursive);
  pthread_mutex_init(&_sa_heaps_lock, NULL);
  pthread_mutexattr_destroy(&recursive);
  /* A remote free that was telling a heap about a full page when the
   * parent forked never ends its NOTIFYING here: end it for it (its block
   * stays unpublished: a leak, not a hang in _sa_page_abandon). */
  for (sa_segment_t *seg = _sa_all_segments; seg != NULL; seg = seg->all_next)
    for (uint32_t i = 0; seg->kind != SA_SEGMENT_HUGE && i < seg->page_count;
         i++)
      _sa_page_after_fork(&seg->pages[i]);
}

static void heap_thread_done(void *arg) {
  sa_heap_t *heap = arg;
  _sa_heap_abandon_segments(heap);
  pthread_mutex_lock(&_sa_heaps_lock);
  memset(heap, 0, sizeof(*heap));
  heap->next_pooled = sa_heap_pool;
  sa_heap_pool = heap;
  pthread_mutex_unlock(&_sa_heaps_lock);
  _sa_tls_heap = &_sa_heap_empty;
}

void _sa_global_init(void) {
  int expected = 0;
  if (atomic_compare_exchange_strong(&sa_init_state, &expected, 1)) {
    sa_in_init = true;
    pthread_key_create(&sa_heap_key, heap_thread_done);
#if SEGALLOC_DEBUG
    _sa_dbg_init();
#endif
    atomic_store(&sa_init_state, 2);
    /* May allocate: init is marked done first, so that recursion works. */
    pthread_atfork(fork_prepare, fork_parent, fork_child);
#if SEGALLOC_DEBUG
    _sa_dbg_init_fork();
#endif
    sa_in_init = false;
    return;
  }
  while (atomic_load(&sa_init_state) != 2 && !sa_in_init)
    sched_yield();
}

static sa_heap_t *heap_new(void) {
  sa_heap_t *heap = sa_heap_pool;
  if (heap != NULL) {
    sa_heap_pool = heap->next_pooled;
    return heap;
  }
  size_t size = sa_align_up(sizeof(sa_heap_t), 64);
  if (sa_heap_chunk_left < size) {
    size_t chunk = (size_t)64 << 10;
    sa_heap_chunk = _sa_os_map_aligned(chunk, _sa_os_page_size());
    if (sa_heap_chunk == NULL)
      return NULL;
    sa_heap_chunk_left = chunk;
  }
  heap = (sa_heap_t *)sa_heap_chunk;
  sa_heap_chunk += size;
  sa_heap_chunk_left -= size;
  return heap;
}

sa_heap_t *_sa_heap_init_thread(void) {
  _sa_global_init();
  pthread_mutex_lock(&_sa_heaps_lock);
  sa_heap_t *heap = heap_new();
  if (heap != NULL)
    memset(heap, 0, sizeof(*heap));
  pthread_mutex_unlock(&_sa_heaps_lock);
  if (heap == NULL)
    return NULL;
  /* Set before pthread_setspecific, which may itself allocate. */
  _sa_tls_heap = heap;
  pthread_setspecific(sa_heap_key, heap);
  return heap;
}
