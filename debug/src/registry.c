/* Per-thread registries (debug.h): the table of live blocks each thread
 * allocated and the quarantine ring of blocks it freed. Tables, not links
 * through the headers, so that a damaged header can't derail a walk.
 *
 * Locks: a thread lists its blocks in its own registry without a lock
 * (debug.h says how); it locks it to unlist or quarantine; a free from
 * another thread locks the owner's, never two at once. Walkers
 * (check, walk, leak check, flush) are serialised by sa_dbg_walk_lock and
 * lock one registry at a time; they may call into the core (never the
 * reverse), and the fork handlers take every lock, in that same order. */
#include "debug.h"

#include <sched.h>
#include <string.h>
#include <unistd.h>

__thread sa_dbg_thread_t *_sa_dbg_tls
    __attribute__((tls_model("initial-exec")));

static pthread_mutex_t sa_dbg_walk_lock =
    PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t sa_dbg_list_lock = PTHREAD_MUTEX_INITIALIZER;
static sa_dbg_thread_t *_Atomic sa_dbg_threads; /* pushed at the head only */
static pthread_key_t sa_dbg_key;

__thread char _sa_dbg_self __attribute__((tls_model("initial-exec")));

/* Spins a while (the holder is most often another thread's free, a few
 * hundred instructions), then yields the CPU at each try. */
void _sa_dbg_lock_wait(sa_dbg_lock_t *l, uintptr_t self) {
  for (unsigned tries = 0;; tries++) {
    uintptr_t free_ = 0;
    if (atomic_load_explicit(&l->holder, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_weak_explicit(&l->holder, &free_, self,
                                              memory_order_acquire,
                                              memory_order_relaxed))
      break;
    if (tries >= 100)
      sched_yield();
  }
  l->depth = 1;
}

static void init_recursive(pthread_mutex_t *m) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(m, &attr);
  pthread_mutexattr_destroy(&attr);
}

/* At thread exit the registry stays (its blocks live on) for another
 * thread to adopt; its quarantine goes with it. */
static void thread_exit(void *arg) {
  sa_dbg_thread_t *t = arg;
  _sa_dbg_tls = NULL;
  atomic_store(&t->orphan, true);
}

sa_dbg_thread_t *_sa_dbg_thread_attach(void) {
  _sa_global_init();
  pthread_mutex_lock(&sa_dbg_list_lock);
  sa_dbg_thread_t *t = atomic_load(&sa_dbg_threads);
  while (t != NULL && !atomic_exchange(&t->orphan, false))
    t = t->next;
  if (t == NULL) {
    size_t page = _sa_os_page_size();
    t = _sa_os_map_aligned((sizeof(*t) + page - 1) & ~(page - 1), page);
    if (t != NULL) { /* fresh mappings are zeroed: the lock is free */
      t->free_slot = UINT32_MAX;
      atomic_store(&t->remote_slot, UINT32_MAX);
      t->next = atomic_load(&sa_dbg_threads);
      atomic_store(&sa_dbg_threads, t);
    }
  }
  pthread_mutex_unlock(&sa_dbg_list_lock);
  if (t == NULL)
    return NULL;
  _sa_dbg_forget_traces(t); /* taken on another thread's stack */
  t->tid = (uint32_t)gettid();
  _sa_dbg_tls = t;
  pthread_setspecific(sa_dbg_key, t);
  return t;
}

/* Doubles a table kept in its own mapping; false when out of memory. */
static bool table_grow(void **table, size_t *cap, size_t entry_size) {
  size_t page = _sa_os_page_size();
  size_t old_bytes = *cap * entry_size;
  size_t new_cap = *cap == 0 ? page / entry_size : *cap * 2;
  void *grown =
      *table == NULL
          ? _sa_os_map_aligned(new_cap * entry_size, page)
          : _sa_os_remap_aligned(*table, old_bytes, new_cap * entry_size, page);
  if (grown == NULL)
    return false;
  *table = grown;
  *cap = new_cap;
  return true;
}

/* Doubles t's live table (a malloc in a thousand or fewer): out of line,
 * so that the common malloc saves no registers for it. */
static __attribute__((noinline, cold)) bool live_grow(sa_dbg_thread_t *t) {
  /* The table may move: not while a walker reads it. */
  sa_dbg_lock(&t->lock);
  size_t cap = t->live_cap;
  bool grown = cap < UINT32_MAX / 2 &&
               table_grow((void **)&t->live, &cap, sizeof(*t->live));
  t->live_cap = (uint32_t)cap;
  sa_dbg_unlock(&t->lock);
  return grown;
}

bool _sa_dbg_live_add(sa_dbg_thread_t *t, sa_dbg_header_t *h) {
  uint32_t slot = t->free_slot;
  if (slot == UINT32_MAX &&
      atomic_load_explicit(&t->remote_slot, memory_order_relaxed) != UINT32_MAX)
    slot = atomic_exchange_explicit(&t->remote_slot, UINT32_MAX,
                                    memory_order_acquire);
  uint32_t used = atomic_load_explicit(&t->live_used, memory_order_relaxed);
  if (slot != UINT32_MAX) {
    t->free_slot =
        (uint32_t)(atomic_load_explicit(&t->live[slot], memory_order_relaxed) >>
                   1);
  } else {
    if (used == t->live_cap && !live_grow(t))
      return false;
    slot = used;
  }
  h->owner = t;
  h->slot = slot;
  h->seal = sa_dbg_seal_with(h, 0, 0, SA_DBG_LIVE); /* as block_init set */
  /* Sealed first: a walker may read the entry at once. */
  atomic_store_explicit(&t->live[slot], (uintptr_t)h, memory_order_release);
  if (slot == used)
    atomic_store_explicit(&t->live_used, used + 1, memory_order_release);
  return true;
}

/* With t locked by the caller (`own`: t is the caller's): unlists h if
 * it is live and listed in t; false if not (another thread freed it at
 * the same time). */
static inline bool live_take(sa_dbg_thread_t *t, sa_dbg_header_t *h, bool own) {
  _Atomic(uintptr_t) *entry = &t->live[h->slot];
  if (h->state != SA_DBG_LIVE ||
      atomic_load_explicit(entry, memory_order_relaxed) != (uintptr_t)h)
    return false;
  if (own) {
    atomic_store_explicit(entry, (uintptr_t)t->free_slot << 1 | 1,
                          memory_order_relaxed);
    t->free_slot = h->slot;
    return true;
  }
  uint32_t head = atomic_load_explicit(&t->remote_slot, memory_order_relaxed);
  do
    atomic_store_explicit(entry, (uintptr_t)head << 1 | 1,
                          memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(&t->remote_slot, &head, h->slot,
                                                memory_order_release,
                                                memory_order_relaxed));
  return true;
}

static inline void release(sa_dbg_header_t *h) {
  if (!_sa_dbg_poison_check(h))
    return;
  _sa_dbg_note_released(h);
  sa_dbg_reseal_state(h, SA_DBG_RELEASED);
  _sa_free(sa_dbg_base(h));
}

void _sa_dbg_release(sa_dbg_header_t *h) {
  release(h);
}

/* The ring doubles in place: entries that wrapped around move to the new
 * half, so the ring stays in order. Out of line: rare. */
static __attribute__((noinline, cold)) bool ring_grow(sa_dbg_thread_t *t) {
  size_t old_cap = t->ring_cap;
  if (!table_grow((void **)&t->quarantine, &t->ring_cap,
                  sizeof(*t->quarantine)))
    return false;
  size_t wrapped = t->ring_head + t->ring_len > old_cap
                       ? t->ring_head + t->ring_len - old_cap
                       : 0;
  memcpy(t->quarantine + old_cap, t->quarantine,
         wrapped * sizeof(*t->quarantine));
  return true;
}

/* Quarantined blocks leave oldest first, long after they were last
 * touched: their header and first user bytes are fetched this many pops
 * ahead, so that the release's poison check doesn't wait for memory. */
#define RING_PREFETCH 4

static void prefetch_block(const sa_dbg_header_t *h) {
  const char *p = (const char *)h;
  for (int line = 0; line < 4; line++)
    __builtin_prefetch(p + 64 * line, 1);
}

/* Takes the oldest blocks out of t's ring into out[n..max) while more
 * than `budget` bytes are queued; the new n. Fields in locals: the
 * stores to `out` could alias them. */
static inline size_t ring_pop(sa_dbg_thread_t *t, size_t budget,
                              sa_dbg_header_t **out, size_t n, size_t max) {
  sa_dbg_header_t **ring = t->quarantine;
  size_t mask = t->ring_cap - 1, head = t->ring_head, len = t->ring_len;
  size_t bytes = t->ring_bytes;
  while (bytes > budget && len > 0 && n < max) {
    if (len > RING_PREFETCH)
      prefetch_block(ring[(head + RING_PREFETCH) & mask]);
    sa_dbg_header_t *h = ring[head];
    head = (head + 1) & mask;
    len--;
    bytes -= h->size + SA_DBG_HEADER_SIZE;
    out[n++] = h;
  }
  t->ring_head = head;
  t->ring_len = len;
  t->ring_bytes = bytes;
  return n;
}

/* With t locked: queues h, then takes out the oldest blocks while more
 * than the budget is queued, into out[0..n), n <= max (h too if it could
 * not be queued: out of memory); n. Then poisons h, before the lock is
 * let go (no one sees it queued unpoisoned): so the prefetches of the
 * blocks to leave next go out before the poison's stores, and no locked
 * instruction waits for those stores to drain (perf stat: 4% of the CPU
 * time of small-block churn; perf annotate: the lock's compare-and-swap
 * right after the poison of another thread's block). */
static inline size_t quarantine(sa_dbg_thread_t *t, sa_dbg_header_t *h,
                                sa_dbg_header_t **out, size_t max) {
  size_t n = 0;
  if (SA_UNLIKELY(t->ring_len == t->ring_cap) && !ring_grow(t)) {
    out[n++] = h; /* out of memory: released at once */
  } else {
    t->quarantine[(t->ring_head + t->ring_len++) & (t->ring_cap - 1)] = h;
    t->ring_bytes += h->size + SA_DBG_HEADER_SIZE;
  }
  n = ring_pop(t, _sa_dbg_options.quarantine_bytes, out, n, max);
  _sa_dbg_poison(h);
  return n;
}

bool _sa_dbg_retire(sa_dbg_header_t *h, bool intact, const void *frame) {
  sa_dbg_thread_t *t = sa_dbg_thread();
  sa_dbg_thread_t *owner = h->owner;
  bool own = owner == t;
  /* The live-table entry the unlisting reads and writes is most often not
   * cached: fetched while the backtrace is taken. Only in this thread's
   * own table: another's may be moved (grown) by its thread meanwhile. */
  if (own)
    __builtin_prefetch(&t->live[h->slot], 1);
  uint32_t free_stack = _sa_dbg_stack_capture(SA_DBG_FREE_DEPTH, frame);
  bool queue = intact && !sa_dbg_guarded(h);
  /* Blocks pushed out of the quarantine: one in, one out; a large block
   * in may push out a few. */
  sa_dbg_header_t *out[8];
  size_t n = 0;
  sa_dbg_lock(&owner->lock);
  bool listed = live_take(owner, h, own);
  if (SA_LIKELY(listed)) {
    sa_dbg_reseal_free(h, free_stack, t != NULL ? t->tid : 0,
                       intact ? SA_DBG_QUARANTINED : SA_DBG_RELEASED);
    /* The common free, a thread's own block: one lock section. */
    if (SA_LIKELY(queue && own))
      n = quarantine(t, h, out, sizeof(out) / sizeof(out[0]));
  }
  sa_dbg_unlock(&owner->lock);
  if (SA_UNLIKELY(!listed))
    return false;
  /* Another thread's block: unlisted and not yet queued, it is this
   * thread's alone. */
  if (SA_UNLIKELY(queue && !own)) {
    if (t != NULL) {
      sa_dbg_lock(&t->lock);
      n = quarantine(t, h, out, sizeof(out) / sizeof(out[0]));
      sa_dbg_unlock(&t->lock);
    } else { /* no registry: released at once */
      _sa_dbg_poison(h);
      out[n++] = h;
    }
  }
  for (size_t i = 0; i < n; i++)
    release(out[i]);
  return true;
}

sa_dbg_header_t *_sa_dbg_quarantine_oldest(sa_dbg_thread_t *t) {
  sa_dbg_header_t *h = NULL;
  ring_pop(t, 0, &h, 0, 1);
  return h;
}

void _sa_dbg_for_each_thread(void (*visit)(sa_dbg_thread_t *t, void *ctx),
                             void *ctx) {
  pthread_mutex_lock(&sa_dbg_walk_lock);
  for (sa_dbg_thread_t *t = atomic_load(&sa_dbg_threads); t != NULL;
       t = t->next) {
    sa_dbg_lock(&t->lock);
    visit(t, ctx);
    sa_dbg_unlock(&t->lock);
  }
  pthread_mutex_unlock(&sa_dbg_walk_lock);
}

/* ---- init and fork ---- */

void _sa_dbg_init(void) {
  _sa_dbg_read_options();
  _sa_dbg_stack_init();
  pthread_key_create(&sa_dbg_key, thread_exit);
}

static void fork_prepare(void) {
  pthread_mutex_lock(&sa_dbg_walk_lock);
  pthread_mutex_lock(&sa_dbg_list_lock);
  for (sa_dbg_thread_t *t = atomic_load(&sa_dbg_threads); t != NULL;
       t = t->next)
    sa_dbg_lock(&t->lock);
}

static void fork_parent(void) {
  for (sa_dbg_thread_t *t = atomic_load(&sa_dbg_threads); t != NULL;
       t = t->next)
    sa_dbg_unlock(&t->lock);
  pthread_mutex_unlock(&sa_dbg_list_lock);
  pthread_mutex_unlock(&sa_dbg_walk_lock);
}

/* The child has one thread: the others' registries await adoption (their
 * blocks are still live in the child). */
static void fork_child(void) {
  for (sa_dbg_thread_t *t = atomic_load(&sa_dbg_threads); t != NULL;
       t = t->next) {
    t->lock.depth = 0;
    atomic_store(&t->lock.holder, 0);
    if (t != _sa_dbg_tls)
      atomic_store(&t->orphan, true);
  }
  pthread_mutex_init(&sa_dbg_list_lock, NULL);
  init_recursive(&sa_dbg_walk_lock);
  if (_sa_dbg_tls != NULL)
    _sa_dbg_tls->tid = (uint32_t)gettid();
}

void _sa_dbg_init_fork(void) {
  _sa_dbg_guard_init_fork(); /* its lock is taken last (a leaf) */
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}
