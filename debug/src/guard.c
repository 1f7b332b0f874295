/* Guarded blocks (SEGALLOC_GUARD, debug.h): every block, or about one in
 * N, gets a run of pages of its own against an inaccessible guard page,
 * so that the access that overflows it (or underflows it, with the guard
 * on the left) faults; freed, the run becomes inaccessible and stays so
 * in a quarantine, so that a use after free faults too. The fault
 * handler turns such a fault into the usual report.
 *
 * One pool of address space, reserved at the first guarded block, holds
 * every run; a page table gives each page's slot, so "is this address
 * guarded, and by which block" is one subtraction and one load, for the
 * fault handler and for free alike. The tables sit past the pool's end
 * (runs start at its other end) behind an inaccessible gap, and a gap
 * before the pool too: a wild access near a run faults rather than land
 * in them, or in some other mapping. The pool lock is a leaf: nothing
 * holding it takes another lock, and the registry locks are never held
 * while taking it. */
#include "debug.h"

#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <ucontext.h>

#define POOL_BYTES ((size_t)64 << 30) /* address space, never memory */
/* Under a limit of address space (ulimit -v, AFL++ -m), at most this
 * share of it: the program's own blocks need the rest. */
#define POOL_SHARE 64
#define MIN_POOL_BYTES ((size_t)1 << 20)
/* Inaccessible address space on either side of the pool: a quarter of
 * it, at most this. */
#define GAP_BYTES ((size_t)64 << 20)
#define MAX_SLOTS ((size_t)1 << 18)
#define MAX_BLOCK ((size_t)256 << 20) /* larger blocks get canaries */
/* Freed runs kept inaccessible: at most this many, and pages. */
#define QUARANTINE_RUNS ((size_t)1 << 14)
#define QUARANTINE_PAGES ((size_t)1 << 20)
#define EXACT_RUNS 64 /* free lists by run length, then one for the rest */
#define ALTSTACK_BYTES ((size_t)64 << 10)
#define MAP_HEADROOM 8192 /* mappings left for everything else */

uint8_t *_sa_dbg_guard_pool;
_Atomic size_t _sa_dbg_guard_bytes;
__thread uint32_t _sa_dbg_guard_countdown
    __attribute__((tls_model("initial-exec")));
static __thread uint64_t sa_dbg_guard_rng
    __attribute__((tls_model("initial-exec")));
static __thread bool sa_dbg_guard_altstack
    __attribute__((tls_model("initial-exec")));

/* Guarded by `lock` but `slots`, `page_slot` and the slots' contents,
 * which the fault handler reads without it (a slot and its pages are
 * written before the block is handed out). */
static struct {
  pthread_mutex_t lock;
  bool tried; /* the pool was set up, or that failed */
  size_t page, page_shift;
  size_t pages, bumped;         /* pool pages, pages ever given to a slot */
  _Atomic(uint32_t) *page_slot; /* per pool page: slot index + 1, 0 none */
  sa_dbg_guard_t *slots;
  uint32_t slot_count, max_slots;
  uint32_t free_runs[EXACT_RUNS + 1]; /* heads: slot index + 1 */
  uint32_t *ring; /* quarantined slot indexes, oldest at ring_head */
  size_t ring_head, ring_len, ring_pages;
  size_t max_ring_pages; /* QUARANTINE_PAGES, or half a small pool */
  size_t live;           /* guarded blocks handed out */
  size_t max_live;       /* within the kernel's limit of mappings */
  size_t live_bytes;     /* their runs but the guard pages */
  size_t refused_live;   /* live when the kernel refused a mapping; 0: none */
  bool told;             /* the fallback to canaries was announced */
  struct sigaction old_segv, old_bus;
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- sampling ---- */

/* SEGALLOC_GUARD=sites:n (the default) also guards the first block of
 * each call site: a short program's bug, or the one on a path a fuzzer
 * has just reached, is in such a block. It costs two system calls and a
 * page fault once per site (`bash -c 'ls /'` has about 20). */
_Atomic(uint8_t) _sa_dbg_guard_sites[1u << SA_DBG_SITE_BITS];

/* Sites that share a flag share its one guard: with 65536 flags, a
 * program of a few thousand sites loses a few percent of them, and no
 * pair of sites can make every block of theirs guarded. */
bool _sa_dbg_guard_new_site(size_t index) {
  return atomic_exchange_explicit(&_sa_dbg_guard_sites[index], 1,
                                  memory_order_relaxed) == 0;
}

bool _sa_dbg_guard_sample(void) {
  /* xorshift64, the same seed in every thread: a run that allocates the
   * same way guards the same blocks (tests and bug reports repeat). */
  uint64_t x = sa_dbg_guard_rng;
  if (x == 0)
    x = 0x9e3779b97f4a7c15ULL;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  sa_dbg_guard_rng = x;
  bool first = _sa_dbg_guard_countdown == 0;
  /* Uniform in [1, 2N - 1]: one allocation in N on average. */
  uint32_t every = _sa_dbg_options.guard_every;
  _sa_dbg_guard_countdown = 1 + (uint32_t)(x % (2 * (uint64_t)every - 1));
  return !first;
}

/* ---- the pool ---- */

static sa_dbg_guard_t *slot_at(uint32_t index_plus_one) {
  return index_plus_one == 0 ? NULL : &pool.slots[index_plus_one - 1];
}

/* The slot whose run holds p, or NULL. Lock-free (the fault handler). */
static sa_dbg_guard_t *slot_of(const void *p) {
  if (!sa_dbg_in_guard_pool(p))
    return NULL;
  size_t page =
      ((uintptr_t)p - (uintptr_t)_sa_dbg_guard_pool) >> pool.page_shift;
  return slot_at(
      atomic_load_explicit(&pool.page_slot[page], memory_order_acquire));
}

/* The run's pages that hold user bytes (all but the guard page). */
static uint8_t *data_start(const sa_dbg_guard_t *g) {
  return g->run + (_sa_dbg_options.guard_left ? pool.page : 0);
}

static size_t data_bytes(const sa_dbg_guard_t *g) {
  return (g->run_pages - 1) * pool.page;
}

/* The block an address in the pool is blamed on: the one whose run holds
 * it or, in a guard page (or a page of no run: the pool's first, and
 * those past the last run), the nearer of the blocks on either side, as
 * GWP-ASan does (an underflow of the next block, with the guard on the
 * right). Lock-free (the fault handler). */
static sa_dbg_guard_t *block_at(const uint8_t *addr) {
  sa_dbg_guard_t *g = slot_of(addr);
  const uint8_t *page =
      (const uint8_t *)((uintptr_t)addr & ~(uintptr_t)(pool.page - 1));
  if (g != NULL &&
      page != (_sa_dbg_options.guard_left ? g->run : g->run + data_bytes(g)))
    return g;
  sa_dbg_guard_t *before = slot_of(page - 1);
  sa_dbg_guard_t *after = slot_of(page + pool.page);
  if (before == NULL || after == NULL)
    return before != NULL ? before : after;
  size_t past_before = (size_t)(addr - (before->user + before->header.size));
  size_t to_after = (size_t)(after->user - addr);
  return to_after < past_before ? after : before;
}

uint8_t *_sa_dbg_guard_start(const sa_dbg_header_t *h) {
  const sa_dbg_guard_t *g = (const sa_dbg_guard_t *)h;
  return h->size == 0 ? g->user : data_start(g);
}

uint8_t *_sa_dbg_guard_end(const sa_dbg_header_t *h) {
  const sa_dbg_guard_t *g = (const sa_dbg_guard_t *)h;
  return h->size == 0 ? g->user : data_start(g) + data_bytes(g);
}

static void on_fault(int sig, siginfo_t *info, void *context);

/* One reservation: a gap, the pool, a gap, the tables, a page (all but
 * the tables inaccessible). */
static bool pool_reserve(size_t bytes) {
  size_t pages = bytes / pool.page;
  size_t slots = pages / 2 < MAX_SLOTS ? pages / 2 : MAX_SLOTS;
  size_t page_slot_bytes = pages * sizeof(*pool.page_slot);
  size_t slot_bytes = slots * sizeof(*pool.slots);
  size_t ring_bytes = QUARANTINE_RUNS * sizeof(*pool.ring);
  size_t tables = (page_slot_bytes + slot_bytes + ring_bytes + pool.page - 1) &
                  ~(pool.page - 1);
  size_t gap =
      (bytes / 4 < GAP_BYTES ? bytes / 4 : GAP_BYTES) & ~(pool.page - 1);
  size_t total = gap + bytes + gap + tables + pool.page;
  uint8_t *area = _sa_os_reserve(total, false);
  if (area == NULL)
    return false;
  uint8_t *at = area + gap + bytes + gap;
  if (!_sa_os_protect(at, tables, true)) {
    _sa_os_unmap(area, total);
    return false;
  }
  pool.page_slot = (void *)at;
  pool.slots = (void *)(at + page_slot_bytes);
  pool.ring = (void *)(at + page_slot_bytes + slot_bytes);
  pool.pages = pages;
  pool.max_slots = (uint32_t)slots;
  /* A quarantine that could fill the pool would stop guarding for good. */
  pool.max_ring_pages =
      pages / 2 < QUARANTINE_PAGES ? pages / 2 : QUARANTINE_PAGES;
  /* The pool's first page is no run's: the first run's left neighbour is
   * in the pool too, so a fault there is blamed on it. */
  pool.bumped = 1;
  _sa_dbg_guard_pool = area + gap;
  return true;
}

/* Once, under the lock: the address space, the tables, the handler. */
static bool pool_setup(void) {
  pool.tried = true;
  pool.page = _sa_os_page_size();
  pool.page_shift = (size_t)__builtin_ctzl(pool.page);
  /* Less address space if the process may not have that much (ulimit
   * -v), or if the kernel refuses. */
  size_t bytes = POOL_BYTES;
  struct rlimit as;
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY &&
      as.rlim_cur / POOL_SHARE < bytes)
    bytes = (as.rlim_cur / POOL_SHARE) & ~(pool.page - 1);
  if (bytes < MIN_POOL_BYTES)
    return false;
  while (!pool_reserve(bytes))
    if ((bytes /= 4) < MIN_POOL_BYTES)
      return false;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &pool.old_segv);
  sigaction(SIGBUS, &sa, &pool.old_bus);
  /* A live guarded block splits the pool's mapping in about two; leave
   * room for the core's own mappings and the program's. */
  size_t maps = _sa_os_max_mappings();
  pool.max_live = maps > 2 * MAP_HEADROOM ? (maps - MAP_HEADROOM) / 2
                  : maps != 0             ? maps / 4
                                          : SIZE_MAX;
  atomic_store(&_sa_dbg_guard_bytes, bytes);
  return true;
}

static void free_push(sa_dbg_guard_t *g) {
  uint32_t *head = &pool.free_runs[g->run_pages <= EXACT_RUNS ? g->run_pages - 1
                                                              : EXACT_RUNS];
  g->next = *head;
  *head = (uint32_t)(g - pool.slots) + 1;
}

/* A slot with a run of `run_pages` pages: a free one of that length (or,
 * for long runs, up to twice as long), else a new one; NULL when the pool
 * is exhausted. */
static sa_dbg_guard_t *slot_take(size_t run_pages) {
  uint32_t *link =
      &pool.free_runs[run_pages <= EXACT_RUNS ? run_pages - 1 : EXACT_RUNS];
  for (int tries = 0; *link != 0 && tries < 16; tries++) {
    sa_dbg_guard_t *g = slot_at(*link);
    if (g->run_pages >= run_pages && g->run_pages <= 2 * run_pages) {
      *link = g->next;
      return g;
    }
    link = &g->next;
  }
  if (pool.slot_count == pool.max_slots || pool.pages - pool.bumped < run_pages)
    return NULL;
  sa_dbg_guard_t *g = &pool.slots[pool.slot_count++];
  g->run = _sa_dbg_guard_pool + pool.bumped * pool.page;
  g->run_pages = (uint32_t)run_pages;
  for (size_t i = 0; i < run_pages; i++)
    atomic_store_explicit(&pool.page_slot[pool.bumped + i], pool.slot_count,
                          memory_order_release);
  pool.bumped += run_pages;
  return g;
}

/* Said once per process: from now on (or for a while) blocks that should
 * be guarded get canaries. Called with the lock held. */
static void tell_fallback(const char *why) {
  if (pool.told)
    return;
  pool.told = true;
  _sa_message("guard pages unavailable (%s); new blocks get canaries "
              "instead",
              why);
}

/* The calling thread's alternate signal stack, so that a fault report
 * works even on a thread whose stack is nearly full; a stack the program
 * set up itself is kept. */
static void altstack_setup(void) {
  sa_dbg_guard_altstack = true;
  sa_dbg_thread_t *t = _sa_dbg_tls;
  stack_t old;
  if (t == NULL || sigaltstack(NULL, &old) != 0 || !(old.ss_flags & SS_DISABLE))
    return;
  if (t->altstack == NULL)
    t->altstack = _sa_os_reserve(ALTSTACK_BYTES, true);
  if (t->altstack == NULL)
    return;
  stack_t ss = {.ss_sp = t->altstack, .ss_size = ALTSTACK_BYTES};
  sigaltstack(&ss, NULL);
}

/* malloc's alignment for a guarded block: C (C23 7.24.3) asks only for
 * that of the types no larger than the block, the largest power of two
 * <= size, so that a block of 1, 2, 4 or 8 bytes ends at its guard page;
 * 16 from 16 bytes on (max_align_t's, as SSE types and long double need). */
static size_t malloc_align(size_t size) {
  if (size >= SA_MIN_ALIGN)
    return SA_MIN_ALIGN;
  return size == 0 ? 1 : (size_t)1 << (63 - __builtin_clzl(size));
}

sa_dbg_header_t *_sa_dbg_guard_alloc(size_t size, size_t align, bool zero,
                                     const void *frame, uint32_t tid) {
  if (align == 0)
    align = malloc_align(size);
  size_t page = _sa_os_page_size();
  if (align > page || size > MAX_BLOCK)
    return NULL;
  size_t need = (size + align - 1) & ~(align - 1);
  size_t data_pages = need == 0 ? 1 : (need + page - 1) / page;
  pthread_mutex_lock(&pool.lock);
  if (!pool.tried && !pool_setup())
    tell_fallback("no address space for the guard pool");
  sa_dbg_guard_t *g = NULL;
  /* After a refusal, wait for a quarter of the guarded blocks to go. */
  if (_sa_dbg_guard_pool != NULL && pool.live >= pool.max_live) {
    tell_fallback("near the kernel's limit of mappings, vm.max_map_count");
  } else if (_sa_dbg_guard_pool != NULL &&
             (pool.refused_live == 0 ||
              pool.live < pool.refused_live * 3 / 4)) {
    g = slot_take(data_pages + 1);
    if (g == NULL)
      tell_fallback("the guard pool is full");
    else
      pool.live++, pool.live_bytes += data_bytes(g);
  }
  pthread_mutex_unlock(&pool.lock);
  if (g == NULL)
    return NULL;
  uint8_t *start = data_start(g);
  if (size != 0 && !_sa_os_protect(start, data_bytes(g), true)) {
    pthread_mutex_lock(&pool.lock);
    pool.refused_live = pool.live--;
    pool.live_bytes -= data_bytes(g);
    free_push(g);
    tell_fallback("the kernel refused a mapping: see vm.max_map_count");
    pthread_mutex_unlock(&pool.lock);
    return NULL;
  }

  if (!sa_dbg_guard_altstack)
    altstack_setup();
  /* A 0-byte block's page stays inaccessible: right side, the user
   * pointer is its end, so that both sides of it fault. */
  if (_sa_dbg_options.guard_left)
    g->user = start;
  else
    g->user = (uint8_t *)((uintptr_t)(start + data_bytes(g) - size) &
                          ~(uintptr_t)(align - 1));
  g->opened = false;
  /* Fresh pages are zeroed: `zero` needs no memset. */
  _sa_dbg_header_init(&g->header, 0, size, zero ? size : 0, frame, tid);
  return &g->header;
}

void _sa_dbg_guard_retire(sa_dbg_header_t *h) {
  sa_dbg_guard_t *g = (sa_dbg_guard_t *)h;
  size_t run_bytes = g->run_pages * pool.page;
  /* The whole run, guard page too: a reported access may have opened it.
   * If the kernel refuses, the block is merely not watched. */
  _sa_os_protect(g->run, run_bytes, false);
  g->opened = false;
  pthread_mutex_lock(&pool.lock);
  pool.live--;
  pool.live_bytes -= data_bytes(g);
  pool.ring[(pool.ring_head + pool.ring_len++) % QUARANTINE_RUNS] =
      (uint32_t)(g - pool.slots);
  pool.ring_pages += g->run_pages;
  while (pool.ring_len == QUARANTINE_RUNS ||
         pool.ring_pages > pool.max_ring_pages) {
    sa_dbg_guard_t *old = &pool.slots[pool.ring[pool.ring_head]];
    pool.ring_head = (pool.ring_head + 1) % QUARANTINE_RUNS;
    pool.ring_len--;
    pool.ring_pages -= old->run_pages;
    if (old->opened)
      _sa_os_protect(old->run, old->run_pages * pool.page, false);
    old->header.state = SA_DBG_RELEASED;
    _sa_dbg_seal(&old->header);
    free_push(old);
  }
  pthread_mutex_unlock(&pool.lock);
}

sa_dbg_header_t *_sa_dbg_guard_header_of(const void *p) {
  sa_dbg_guard_t *g = block_at(p);
  return g != NULL && _sa_dbg_header_ok(&g->header) ? &g->header : NULL;
}

sa_dbg_header_t *_sa_dbg_guard_lookup(const void *p,
                                      sa_error_kind_t freed_kind) {
  sa_dbg_guard_t *g = slot_of(p);
  sa_dbg_header_t *h = g != NULL ? &g->header : NULL;
  if (h != NULL && p == g->user && _sa_dbg_header_ok(h)) {
    if (h->state == SA_DBG_LIVE)
      return h;
    _sa_dbg_report_freed(h, p, freed_kind, " (a guarded block)");
    return NULL;
  }
  segalloc_error_t err = {.kind = SEGALLOC_ERR_INVALID_FREE, .address = p};
  if (h == NULL) {
    _sa_dbg_report(&err, NULL, "%p is in the guard pool, in no block", p);
    return NULL;
  }
  err.block = g->user;
  err.requested_size = h->size;
  err.damaged_offset = (size_t)((const uint8_t *)p - g->user);
  _sa_dbg_report(&err, h,
                 "%p is not the start of a block: it is %td bytes from the "
                 "start of the %zu-byte guarded block at %p",
                 p, (const uint8_t *)p - g->user, h->size, (void *)g->user);
  return NULL;
}

void _sa_dbg_add_stats(size_t *blocks, size_t *bytes) {
  pthread_mutex_lock(&pool.lock);
  *blocks += pool.live;
  *bytes += pool.live_bytes;
  pthread_mutex_unlock(&pool.lock);
}

/* ---- the fault handler ---- */

/* A fault that is not ours goes where it would have gone without us. */
static void chain(int sig, siginfo_t *info, void *context) {
  const struct sigaction *old = sig == SIGBUS ? &pool.old_bus : &pool.old_segv;
  if (old->sa_flags & SA_SIGINFO) {
    old->sa_sigaction(sig, info, context);
  } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
    old->sa_handler(sig);
  } else {
    /* The default action: the faulting instruction runs again and now
     * kills the process; a signal sent by kill() is sent again. */
    signal(sig, SIG_DFL);
    if (info->si_code <= 0)
      raise(sig);
  }
}

static void on_fault(int sig, siginfo_t *info, void *context) {
  const uint8_t *addr = info->si_addr;
  sa_dbg_guard_t *g =
      info->si_code > 0 && sa_dbg_in_guard_pool(addr) ? block_at(addr) : NULL;
  const sa_dbg_header_t *h = g != NULL ? &g->header : NULL;
  if (h == NULL || (h->state == SA_DBG_LIVE && addr >= g->user &&
                    addr < g->user + h->size)) {
    chain(sig, info, context);
    return;
  }
  segalloc_error_t err = {
      .address = addr,
      .block = g->user,
      .requested_size = h->size,
      .damaged_offset = (size_t)(addr - g->user),
  };
  const char *what;
  if (h->state != SA_DBG_LIVE) {
    err.kind = SEGALLOC_ERR_USE_AFTER_FREE;
    what = "freed ";
  } else {
    err.kind = addr < g->user ? SEGALLOC_ERR_HEAP_BUFFER_UNDERFLOW
                              : SEGALLOC_ERR_HEAP_BUFFER_OVERFLOW;
    what = "";
  }
  const void *access[SA_DBG_REPORT_DEPTH];
  const char *mode = "ACCESS";
#if defined(__x86_64__)
  const greg_t *regs = ((const ucontext_t *)context)->uc_mcontext.gregs;
  mode = regs[REG_ERR] & 2 ? "WRITE" : "READ";
  _sa_dbg_backtrace_at(access, SA_DBG_REPORT_DEPTH, (const void *)regs[REG_RIP],
                       (const void *)regs[REG_RBP],
                       (const void *)regs[REG_RSP]);
#else
  memset(access, 0, sizeof(access));
#endif
  _sa_dbg_report_access(&err, h, access,
                        "%s at offset %td of the %s%zu-byte guarded block at "
                        "%p",
                        mode, addr - g->user, what, h->size, (void *)g->user);
  /* Going on (SEGALLOC_ON_ERROR=report, or an error handler): the page is
   * opened so that the access completes; the block is not watched there
   * any more until it is freed (or, freed, until its slot is reused). */
  g->opened = true;
  _sa_os_protect((void *)((uintptr_t)addr & ~(uintptr_t)(pool.page - 1)),
                 pool.page, true);
}

/* ---- fork ---- */

static void fork_prepare(void) {
  pthread_mutex_lock(&pool.lock);
}

static void fork_parent(void) {
  pthread_mutex_unlock(&pool.lock);
}

static void fork_child(void) {
  pthread_mutex_init(&pool.lock, NULL);
}

void _sa_dbg_guard_init_fork(void) {
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}
