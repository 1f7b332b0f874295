/* Backtraces (debug.h): frame pointers walked within the thread's stack
 * (segalloc is built with frame pointers; a caller without them just ends
 * the trace early); and the stack depot: every backtrace a block records,
 * stored once and named by a 32-bit id, as ASan's StackDepot. A header
 * holds two ids instead of nine return addresses, which halves it; and a
 * program has few distinct allocation and free sites, so the depot stays
 * small. Nothing here allocates: it runs inside malloc.
 *
 * The depot is lock-free: a thread claims a record, fills it, then
 * publishes its id in an empty bucket of the hash table by
 * compare-and-swap; a published record never changes. Bounded: beyond
 * DEPOT_RECORDS distinct backtraces (or a probe sequence longer than
 * DEPOT_PROBES), new ones are not recorded (id 0), said once on stderr.
 * The memory is reserved at init and committed by the kernel as it is
 * touched.
 *
 * Each thread's registry keeps its recent backtraces, with the frames'
 * addresses (debug.h: sa_dbg_trace_t): a malloc or free from a call path
 * seen before compares the stack with the cache entry and takes its id,
 * without walking, hashing or touching the depot. In the registry, not in
 * thread-local storage: 4 KiB of that would keep the library from being
 * dlopen'ed (glibc's static TLS reserve is smaller). */
#include "debug.h"

#include <string.h>

#define DEPOT_RECORDS ((uint32_t)1 << 17)
#define DEPOT_BITS 18
#define DEPOT_BUCKETS ((uint32_t)1 << DEPOT_BITS) /* at most half full */
#define DEPOT_PROBES 64

typedef struct record_s {
  uint64_t hash;
  const void *frames[SA_DBG_TRACE_DEPTH]; /* NULL-padded */
} record_t;

static struct {
  _Atomic(uint32_t) *buckets; /* record index + 1; 0: empty */
  record_t *records;
  _Atomic(uint32_t) used; /* records claimed */
  atomic_flag full_said;
} depot = {.full_said = ATOMIC_FLAG_INIT};

static const uintptr_t end_frame[2] = {0, 0};

/* ---- walking the stack ---- */

extern void *__libc_stack_end; /* the main thread's stack top (ld.so) */
static __thread uintptr_t sa_dbg_stack_top
    __attribute__((tls_model("initial-exec")));

/* The top of the stack holding `here`: glibc puts a thread's descriptor
 * right above its stack; the main thread's top is __libc_stack_end. Found
 * once per thread, out of line: the common case is one compare. */
static __attribute__((noinline)) uintptr_t stack_top_find(uintptr_t here) {
  uintptr_t self = (uintptr_t)pthread_self();
  uintptr_t top = self > here && self - here < ((uintptr_t)1 << 30)
                      ? self
                      : (uintptr_t)__libc_stack_end;
  if (top <= here)
    return 0; /* an unknown stack: no walking */
  if (sa_dbg_stack_top != 0 && _sa_dbg_tls != NULL)
    _sa_dbg_forget_traces(_sa_dbg_tls);
  sa_dbg_stack_top = top;
  return top;
}

static inline uintptr_t stack_top(uintptr_t here) {
  uintptr_t top = sa_dbg_stack_top;
  return SA_LIKELY(top > here) ? top : stack_top_find(here);
}

bool _sa_dbg_on_stack(const void *p) {
  uintptr_t here = (uintptr_t)__builtin_frame_address(0);
  return (uintptr_t)p >= here && (uintptr_t)p < stack_top(here);
}

/* Whether `next`, read in the frame at fp (8-aligned), leads to a frame:
 * 8-aligned, up the stack but not by more than 1 MiB, and within it. The
 * first three in one compare: next - fp - 8 rotated right by 3 bits is
 * (next - fp) / 8 - 1 when aligned, else above 2^61. */
static inline bool frame_next(uintptr_t next, uintptr_t fp, uintptr_t high) {
  uintptr_t step = next - fp - 8;
  step = step >> 3 | step << 61;
  return step < ((uintptr_t)1 << 17) && next + 16 <= high;
}

/* Return addresses from the frame pointer `frame` on, within [low, high):
 * how many (the rest of out is left as is); `links` (if not NULL) gets
 * the word each frame leads on with. */
static inline __attribute__((always_inline)) size_t
walk_frames(const void **out, uintptr_t *links, size_t depth, const void *frame,
            uintptr_t low, uintptr_t high) {
  const uintptr_t *fp = frame;
  if ((uintptr_t)fp < low || (uintptr_t)fp + 16 > high ||
      ((uintptr_t)fp & 7) != 0)
    return 0;
  size_t n = 0;
  while (n < depth) {
    uintptr_t ret = fp[1];
    if (ret < 4096)
      break;
    uintptr_t next = fp[0];
    if (links != NULL)
      links[n] = next;
    out[n++] = (const void *)ret;
    if (!frame_next(next, (uintptr_t)fp, high))
      break;
    fp = (const uintptr_t *)next;
  }
  return n;
}

/* An explicit call (internal.h: unchecked): clang would make a loop on a
 * header a call to the drop-in's checked memset. */
static void pad(const void **out, size_t n, size_t depth) {
  if (n < depth)
    memset(out + n, 0, (depth - n) * sizeof(*out));
}

void _sa_dbg_backtrace(const void **out, size_t depth, const void *frame) {
  uintptr_t low = (uintptr_t)__builtin_frame_address(0);
  pad(out, walk_frames(out, NULL, depth, frame, low, stack_top(low)), depth);
}

void _sa_dbg_backtrace_at(const void **out, size_t depth, const void *pc,
                          const void *fp, const void *sp) {
  out[0] = pc;
  pad(out + 1,
      walk_frames(out + 1, NULL, depth - 1, fp, (uintptr_t)sp,
                  stack_top((uintptr_t)sp)),
      depth - 1);
}

/* ---- the depot ---- */

void _sa_dbg_stack_init(void) {
  size_t bytes =
      DEPOT_BUCKETS * sizeof(*depot.buckets) + DEPOT_RECORDS * sizeof(record_t);
  uint8_t *memory = _sa_os_reserve(bytes, true);
  if (memory == NULL)
    return; /* no backtraces recorded: reports go without them */
  depot.buckets = (_Atomic(uint32_t) *)memory;
  depot.records = (record_t *)(memory + DEPOT_BUCKETS * sizeof(*depot.buckets));
}

/* Cheap (the frames rotated apart, xor'ed); the bucket is taken from
 * the top bits of its product with an odd constant, which depend on all
 * of its bits. */
static uint64_t hash_of(const void *const *frames) {
  uint64_t acc = 0;
#pragma GCC unroll 8
  for (size_t i = 0; i < SA_DBG_TRACE_DEPTH; i++) {
    uint64_t f = (uintptr_t)frames[i];
    acc ^= i == 0 ? f : f << (13 * i) | f >> (64 - 13 * i);
  }
  return acc;
}

static uint32_t bucket_of(uint64_t hash) {
  return (uint32_t)((hash * 0x9e3779b97f4a7c15ULL) >> (64 - DEPOT_BITS));
}

/* A record holding `frames`; 0 when the depot is full. */
static uint32_t claim(uint64_t hash, const void *const *frames) {
  uint32_t n = atomic_load_explicit(&depot.used, memory_order_relaxed);
  if (n < DEPOT_RECORDS)
    n = atomic_fetch_add_explicit(&depot.used, 1, memory_order_relaxed);
  if (n >= DEPOT_RECORDS) {
    if (!atomic_flag_test_and_set(&depot.full_said))
      _sa_message("stack depot full (%u backtraces): new allocation and "
                  "free sites go unrecorded",
                  DEPOT_RECORDS);
    return 0;
  }
  record_t *r = &depot.records[n];
  r->hash = hash;
  memcpy(r->frames, frames, sizeof(r->frames));
  return n + 1;
}

static bool same(const record_t *r, uint64_t hash, const void *const *frames) {
  if (r->hash != hash)
    return false;
  uint64_t diff = 0;
#pragma GCC unroll 8
  for (size_t i = 0; i < SA_DBG_TRACE_DEPTH; i++)
    diff |= (uintptr_t)r->frames[i] ^ (uintptr_t)frames[i];
  return diff == 0;
}

/* The id of `frames` (NULL-padded), stored if new; 0 when full. */
static uint32_t depot_id(const void *const *frames) {
  uint64_t hash = hash_of(frames);
  uint32_t mine = 0; /* claimed, not yet published */
  uint32_t start = bucket_of(hash);
  for (uint32_t probe = 0; probe < DEPOT_PROBES; probe++) {
    _Atomic(uint32_t) *bucket =
        &depot.buckets[(start + probe) & (DEPOT_BUCKETS - 1)];
    uint32_t id = atomic_load_explicit(bucket, memory_order_acquire);
    if (id == 0) {
      if (mine == 0 && (mine = claim(hash, frames)) == 0)
        return 0;
      if (atomic_compare_exchange_strong_explicit(
              bucket, &id, mine, memory_order_release, memory_order_acquire))
        return mine;
      /* Another thread filled the bucket first: maybe the same trace. */
    }
    if (same(&depot.records[id - 1], hash, frames))
      return id; /* a record of ours claimed meanwhile stays unused */
  }
  return 0;
}

/* ---- capturing ---- */

void _sa_dbg_forget_traces(sa_dbg_thread_t *t) {
  memset(t->traces, 0, sizeof(t->traces));
}

static sa_dbg_trace_t *cache_entry(sa_dbg_thread_t *t, size_t depth,
                                   uintptr_t fp, uintptr_t ret) {
  uint64_t key = (fp ^ depth ^ ret) * 0x9e3779b97f4a7c15ULL;
  sa_dbg_trace_t *c = &t->traces[key >> (64 - SA_DBG_TRACE_CACHE_BITS)];
  __asm__("" : "+r"(c)); /* computed once: gcc would redo it at each use */
  return c;
}

/* The walk, the depot, and t's cache entry c filled (the capture missed
 * it; none without a registry). */
static __attribute__((noinline)) uint32_t capture_slow(size_t depth,
                                                       const void *frame,
                                                       sa_dbg_thread_t *t,
                                                       sa_dbg_trace_t *c) {
  const void *frames[SA_DBG_TRACE_DEPTH];
  uintptr_t links[SA_DBG_TRACE_DEPTH];
  uintptr_t low = (uintptr_t)__builtin_frame_address(0);
  uintptr_t high = stack_top(low);
  size_t n = walk_frames(frames, links, depth, frame, low, high);
  if (n == 0 || depot.buckets == NULL)
    return 0;
  pad(frames, n, SA_DBG_TRACE_DEPTH);
  uint32_t id = depot_id(frames);
  uintptr_t last = n == 1 ? (uintptr_t)frame : links[n - 2];
  if (id == 0 || (n < depth && frame_next(links[n - 1], last, high)) ||
      t == NULL || t->traces_filling)
    return id;
  /* A signal handler's malloc meanwhile neither fills an entry nor finds
   * this one (empty until filled); one that moved the stack top emptied
   * the cache: this entry stays empty then. */
  t->traces_filling = true;
  c->link[0] = 0;
  atomic_signal_fence(memory_order_seq_cst);
  for (size_t i = 0; i < depth; i++) {
    c->ret[i] = (uintptr_t)frames[i];
    if (i == 0)
      continue;
    c->link[i] = i <= n ? links[i - 1] : end_frame[0];
    c->at[i] = i < n ? (const uintptr_t *)links[i - 1] : end_frame;
  }
  c->id = id;
  atomic_signal_fence(memory_order_seq_cst);
  if (sa_dbg_stack_top == high)
    c->link[0] = (uintptr_t)frame ^ depth;
  atomic_signal_fence(memory_order_seq_cst);
  t->traces_filling = false;
  return id;
}

/* Whether the stack from `frame` on still holds c's words past the first
 * frame's (already compared). Inlined once per depth: the loop unrolled. */
static inline __attribute__((always_inline)) bool
cache_hit(const sa_dbg_trace_t *c, size_t depth, const uintptr_t *fp) {
#pragma GCC unroll 8
  for (size_t i = 1; i < depth; i++) {
    uintptr_t link = fp[0];
    if (link != c->link[i])
      /* The walk stopped here, on a link leading nowhere (a caller
       * without frame pointers: its own data): so does any such one. */
      return c->at[i] == end_frame &&
             !frame_next(link, (uintptr_t)fp, sa_dbg_stack_top);
    fp = c->at[i];
    if (fp[1] != c->ret[i])
      return false;
  }
  return true;
}

/* The id from the cache or, when the stack no longer holds the entry's
 * words, from the walk. The first frame's words are read unchecked: it is
 * a caller's. */
uint32_t _sa_dbg_stack_capture(size_t depth, const void *frame) {
  sa_dbg_thread_t *t = _sa_dbg_tls;
  if (SA_UNLIKELY(t == NULL))
    return capture_slow(depth, frame, NULL, NULL);
  uintptr_t ret = ((const uintptr_t *)frame)[1];
  sa_dbg_trace_t *c = cache_entry(t, depth, (uintptr_t)frame, ret);
  if (SA_LIKELY(c->link[0] == ((uintptr_t)frame ^ depth) && c->ret[0] == ret &&
                (depth == SA_DBG_TRACE_DEPTH
                     ? cache_hit(c, SA_DBG_TRACE_DEPTH, frame)
                     : cache_hit(c, SA_DBG_FREE_DEPTH, frame))))
    return c->id;
  return capture_slow(depth, frame, t, c);
}

const void *const *_sa_dbg_stack_frames(uint32_t id) {
  if (id == 0 || id > atomic_load(&depot.used) || id > DEPOT_RECORDS)
    return NULL;
  return depot.records[id - 1].frames;
}
