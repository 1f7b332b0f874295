/* The debug layer: every type, constant and invariant it adds around the
 * core, in one place. The core (alloc/src) is compiled unchanged but for
 * SEGALLOC_DEBUG=1, which routes the public API through the hooks in
 * hooks.h; those live in debug/src, one file per job:
 *
 *   options.c   environment options and the per-process secret
 *   block.c     the block layout: header, canary, footer, poison, lookup
 *   registry.c  per-thread tables of live blocks and quarantine rings
 *   hooks.c     the hooks: alloc, free, realloc, usable size, heap check
 *   report.c    error reports, the error handler
 *   stack.c     backtraces, and the stack depot: each stored once, by id
 *   guard.c     guarded blocks (SEGALLOC_GUARD): page runs, fault reports
 *   memory.c    the allocator's own memcpy, memmove and memset; the range
 *               check of the checked memory functions
 *
 * and, in the drop-ins only (tools/dropin.bzl), the exported symbols:
 *
 *   checked.c   memcpy, memset, strcpy, ... and their _chk variants
 *   cxx.cc      C++ operators new and delete, every form
 *
 * A debug block lives inside one core block:
 *
 *   [lead][pad][dbg_header_t][user: size bytes][footer ... core block end]
 *   ^ base: the core block's start       ^ user = base + offset
 *
 * offset is SA_DBG_HEADER_SIZE for blocks aligned to at most 16. Else the
 * user bytes sit after the core's own padding (aligned blocks) plus the
 * alignment or the header size, whichever is larger; then a dbg_lead_t at
 * base records the offset, so that any pointer into the block leads to
 * its header.
 *
 * Invariants (checked by segalloc_check_heap, each break reported):
 *  - header.canary == a keyed hash of the header's address, and
 *    header.seal == a keyed hash of its fields from owner to state (not
 *    the first word, the allocation's backtrace id and thread: the core
 *    reuses it once the block is released, and damage there garbles only
 *    a report): _sa_dbg_header_ok.
 *    Neither a stray write nor a header forged from a fixed pattern passes;
 *    a wrong canary (the word next to the user bytes) means an underflow,
 *    a wrong seal alone some other damage.
 *  - LIVE: listed in owner->live at index `slot`; every footer byte, from
 *    user + size to the end of the core block (at most SA_DBG_FOOTER_CHECK
 *    of them, SA_DBG_GUARD_SLACK_CHECK if guarded), equals the block's
 *    keyed guard byte (block.c); so does, for a guarded block, every byte
 *    of its head (debug.h: guard.c).
 *  - QUARANTINED: in the quarantine ring of the thread that freed it; every
 *    user byte within SA_DBG_FILL_EDGE of either end equals SA_DBG_POISON.
 *  - RELEASED: handed back to the core; its header stays (but for the core
 *    block's first word) so that a late second free is still recognised. */
#ifndef SEGALLOC_DEBUG_INTERNAL_H
#define SEGALLOC_DEBUG_INTERNAL_H

#include "hooks.h"
#include "segalloc_debug.h"

#include <pthread.h>

#define SA_DBG_TRACE_DEPTH 5   /* frames kept per allocation */
#define SA_DBG_FREE_DEPTH 4    /* frames kept per free */
#define SA_DBG_REPORT_DEPTH 16 /* frames shown for the detecting call */
#define SA_DBG_HEADER_SIZE 64  /* sizeof(dbg_header_t) */
#define SA_DBG_FOOTER_MIN 8    /* guard bytes always past the user bytes */
/* Guard bytes filled and verified past a block's user bytes, at most:
 * an overflow (a loop, a copy, an off-by-one) damages the first bytes
 * past the end, and one that runs past the slack the next block's
 * header. Missed: a write 64 bytes or more past the end that skips the
 * bytes before it and stays in the slack, where it harms no other block.
 * All the slack (up to 4 KiB: a 16 KiB block takes a 20 KiB one) cost 67%
 * more last-level cache misses on churn of blocks up to 16 KiB, 256
 * bytes 7% (cachegrind, 2026-12-01). */
#define SA_DBG_FOOTER_CHECK 64
/* The same for a guarded block's slack, footer and head: all of it (less
 * than a page), since no block lies beyond it but past the guard. */
#define SA_DBG_GUARD_SLACK_CHECK 4096
#define SA_DBG_POISON 0xfd /* fills freed user bytes */
/* Poison covers a freed block's first and last SA_DBG_FILL_EDGE user
 * bytes (all of a block up to twice that): the bytes a program reads
 * first, and those a loop overruns into. A write after free further into
 * a larger block is left to guard mode. More costs more than it finds: a
 * freed block is cold, and each poisoned line is a cache miss at the free
 * and another when the quarantine lets it go (4 KiB edges cost 27% more
 * CPU on churn of blocks up to 16 KiB, 12% on realloc growth, 25% on
 * megabyte blocks). */
#define SA_DBG_FILL_EDGE 1024
/* Junk covers a new block's first and last SA_DBG_JUNK_EDGE user bytes
 * (all of a block up to twice that), less than poison: further in, a
 * recycled block's bytes mostly hold the poison of the block before (94-97%
 * of those within SA_DBG_FILL_EDGE of either end on churn of blocks up to
 * 16 KiB), as visible as junk; only fresh memory reads as zeros there.
 * Junk edges of 1 KiB cost 27% more last-level cache misses on that
 * churn (cachegrind). */
#define SA_DBG_JUNK_EDGE 256

typedef enum sa_dbg_state_e {
  SA_DBG_LIVE = 0x4c495645,        /* "LIVE" */
  SA_DBG_QUARANTINED = 0x5152544e, /* "QRTN" */
  SA_DBG_RELEASED = 0x52454c53,    /* "RELS" */
} sa_dbg_state_t;

/* Which call allocated a block; only the matching one may free it. */
typedef enum sa_dbg_kind_e {
  SA_DBG_MALLOC,    /* malloc & co, freed by free or realloc */
  SA_DBG_NEW,       /* operator new, freed by operator delete */
  SA_DBG_NEW_ARRAY, /* operator new[], freed by operator delete[] */
} sa_dbg_kind_t;

struct sa_dbg_thread_s;

/* Right before the user bytes; the canary last, so that an underflow
 * damages it first. The backtraces are stack depot ids (stack.c). */
typedef struct sa_dbg_header_s {
  uint32_t alloc_stack; /* the allocating call's backtrace; 0: unknown */
  uint32_t alloc_tid;
  struct sa_dbg_thread_s *owner; /* whose live table lists the block */
  size_t size;                   /* requested */
  uint32_t offset;               /* user - core block start */
  uint32_t slot;                 /* index in owner->live */
  uint32_t free_stack;           /* the free's backtrace; 0 while live */
  uint32_t free_tid;
  uint16_t footer_len; /* guard bytes filled and checked */
  uint16_t kind;       /* sa_dbg_kind_t: which call allocated it */
  uint32_t state;      /* sa_dbg_state_t */
  uint64_t seal;
  uint64_t canary;
} sa_dbg_header_t;

_Static_assert(sizeof(sa_dbg_header_t) == SA_DBG_HEADER_SIZE,
               "the header fills exactly its reserved bytes");
_Static_assert(SA_DBG_GUARD_SLACK_CHECK <= UINT16_MAX &&
                   SA_DBG_FOOTER_CHECK <= SA_DBG_GUARD_SLACK_CHECK,
               "footer_len holds it");

/* A guarded block (SEGALLOC_GUARD, guard.c): a run of pages of its own in
 * the guard pool, its user bytes against an inaccessible guard page (after
 * them, or before with SEGALLOC_GUARD_SIDE=left). Its header lives here,
 * out of line (offset 0 says so), since the bytes next to the user bytes
 * are the guard. A slot owns its run for good; freed, the run is
 * inaccessible while the slot sits in the guard quarantine, then the slot
 * is reused for a block needing as many pages.
 * Invariants: every page of the run maps back to this slot in the pool's
 * page table; user + header.size <= end of the accessible pages (all of
 * them but the guard; none for a 0-byte block), the bytes between are the
 * footer; a LIVE block's pages are accessible, a freed one's not (unless
 * `opened` to let a reported access go on). */
typedef struct sa_dbg_guard_s {
  sa_dbg_header_t header; /* first: a guarded header is its slot */
  uint8_t *user;
  uint8_t *run;
  uint32_t run_pages; /* the guard page included */
  uint32_t next;      /* free list: slot index + 1; 0 ends it */
  bool opened;        /* some page made accessible after a fault report */
} sa_dbg_guard_t;

/* The keys of a header's canary and seal (block.c), drawn from the secret
 * at init, before the first block: odd multipliers, one per sealed field,
 * and offsets. */
typedef struct sa_dbg_keys_s {
  uint64_t canary, canary_offset;
  uint64_t at, owner, size, offset, slot, free_stack, free_tid, footer_len,
      kind, state, seal_offset;
} sa_dbg_keys_t;

/* At the core block's start when offset != SA_DBG_HEADER_SIZE. */
typedef struct sa_dbg_lead_s {
  uint64_t tag; /* keyed hash of base and offset (block.c) */
  uint64_t offset;
} sa_dbg_lead_t;

/* A registry's lock. Recursive, since an error handler may allocate while
 * a walk holds it; one compare-and-swap to take and one store to give back
 * when free (a recursive pthread mutex cost about 115 instructions a
 * lock/unlock pair, on every free). A waiter spins, then yields.
 * Invariant: depth > 0 exactly when holder != 0; only the holder (a
 * thread's marker, sa_dbg_self) changes depth. */
typedef struct sa_dbg_lock_s {
  _Atomic(uintptr_t) holder; /* 0: free */
  uint32_t depth;
} sa_dbg_lock_t;

#define SA_DBG_TRACE_CACHE_BITS 5 /* backtraces a thread keeps: 32, 4 KiB */

/* A backtrace a thread took (stack.c), with the words the walk read to take it,
 * in order: frame 0 lies at the `frame` given, and link[0] is that xor
 * the depth (frames are 8-aligned: one compare tells both; 0: an empty
 * entry); frame i holds its return address ret[i] and the word link[i + 1]
 * that leads on; at[i + 1] is where the walk went on (link[i + 1]), or
 * stack.c's end_frame once it stopped there (the rest of the entry: end_frame's
 * words). The walk decides from these words alone, given the same stack
 * top: the same words in the stack now give the same backtrace. So the
 * entry is checked word by word, each frame read only once the previous
 * one has led to it (no read the walk would not make). Entries checked
 * against one stack top are dropped when it changes. A walk that stopped
 * on a return address below 4096 (no frame) is not cached. */
typedef struct sa_dbg_trace_s {
  uintptr_t link[SA_DBG_TRACE_DEPTH];
  uintptr_t ret[SA_DBG_TRACE_DEPTH];
  const uintptr_t *at[SA_DBG_TRACE_DEPTH]; /* at[0] unused */
  uint32_t id;
} sa_dbg_trace_t;

/* One per thread that allocates (reused after the thread exits): the blocks
 * it allocated that are live, and the blocks it freed that are quarantined.
 * Only its thread lists blocks, without the lock (no atomic operation on
 * the malloc path); a free, by any thread, and a walk take the lock.
 * Never unmapped.
 * Invariants: live[i], i < live_used, is a header pointer (a live block
 * with slot == i, sealed before it was stored) or a free-slot link (next
 * free index << 1 | 1) on one of two chains: free_slot's (its own
 * thread's frees) or remote_slot's (other threads' frees, taken over
 * whole by its thread when its own chain is empty).
 * quarantine[(head + i) & (ring_cap - 1)], i < ring_len, are quarantined
 * headers, oldest first, ring_bytes the sum of their sizes plus
 * SA_DBG_HEADER_SIZE each: at most SEGALLOC_QUARANTINE_BYTES after a free,
 * unless a large block came in (a free takes out at most 8 blocks). */
typedef struct sa_dbg_thread_s {
  sa_dbg_lock_t lock;
  struct sa_dbg_thread_s *next;
  _Atomic(bool) orphan; /* its thread exited: another may adopt it */
  uint32_t tid;
  _Atomic(uintptr_t) *live;
  _Atomic(uint32_t) live_used; /* entries of `live` ever used */
  uint32_t live_cap;
  uint32_t free_slot;            /* UINT32_MAX: none */
  _Atomic(uint32_t) remote_slot; /* UINT32_MAX: none */
  sa_dbg_header_t **quarantine;
  size_t ring_cap, ring_head, ring_len, ring_bytes;
  uint64_t calls; /* for SEGALLOC_CHECK_EVERY */
  void *altstack; /* the fault handler's stack (guard.c), kept for reuse */
  /* Its thread's latest backtraces (stack.c), forgotten when another
   * thread adopts the registry or the stack top moves. */
  sa_dbg_trace_t traces[1 << SA_DBG_TRACE_CACHE_BITS];
  bool traces_filling; /* an entry is being written */
} sa_dbg_thread_t;

/* ---- options.c ---- */
typedef struct sa_dbg_options_s {
  bool abort_on_error;     /* SEGALLOC_ON_ERROR=abort|report */
  size_t quarantine_bytes; /* SEGALLOC_QUARANTINE_BYTES, per thread */
  int junk;                /* SEGALLOC_JUNK: fill of new blocks, -1 off */
  bool leaks_at_exit;      /* SEGALLOC_LEAKS=1 */
  uint64_t check_every;    /* SEGALLOC_CHECK_EVERY, 0 off */
  uint32_t guard_every;    /* SEGALLOC_GUARD: 0 off, 1 all, n: 1 in ~n */
  bool guard_sites;        /* sites:n: also the first block of each call
                              site */
  bool guard_left;         /* SEGALLOC_GUARD_SIDE=left */
  uint64_t secret;         /* keys the canaries */
} sa_dbg_options_t;
/* Read from the environment by _sa_dbg_init (hooks.h); a bad value is
 * reported and aborts. */
extern sa_dbg_options_t _sa_dbg_options;
void _sa_dbg_read_options(void);

/* ---- block.c ---- */
extern sa_dbg_keys_t _sa_dbg_keys;
/* Draws the keys from the secret (by _sa_dbg_read_options). */
void _sa_dbg_keys_init(uint64_t secret);
/* A header's canary: its address times a key, plus another key; its top
 * byte, the one next to the user bytes, depends on every address bit.
 * Inline, as is the seal: every malloc and every free computes both. */
static inline uint64_t sa_dbg_canary_of(const sa_dbg_header_t *h) {
  return (uintptr_t)h * _sa_dbg_keys.canary + _sa_dbg_keys.canary_offset;
}
/* A header's seal: a keyed multilinear hash of its address and its fields
 * from owner to state, each times its own odd key, summed, plus a key. A
 * change to any one field, down to a bit, changes the sum; changes to
 * several are seen unless they cancel through keys nobody knows; a header
 * forged from a fixed pattern would need the keys too. Linear, so that a
 * free and a release add the terms of their fields' changes alone
 * (sa_dbg_seal_free_terms: the free's fields and the state).
 * Each field has its own multiply, so each is loaded with its own size:
 * a load spanning several pending stores (a header malloc just wrote)
 * waits for them to reach the cache, one matching a store is forwarded
 * from it (perf: a sixth of a malloc-heavy run once waited there). */
static inline uint64_t
sa_dbg_seal_free_terms(uint64_t free_stack, uint64_t free_tid, uint64_t state) {
  const sa_dbg_keys_t *k = &_sa_dbg_keys;
  return free_stack * k->free_stack + free_tid * k->free_tid + state * k->state;
}
/* The seal of h if its free's fields and state were these: malloc, which
 * knows them, loads none. */
static inline uint64_t sa_dbg_seal_with(const sa_dbg_header_t *h,
                                        uint32_t free_stack, uint32_t free_tid,
                                        uint32_t state) {
  const sa_dbg_keys_t *k = &_sa_dbg_keys;
  return k->seal_offset + (uintptr_t)h * k->at +
         (uintptr_t)h->owner * k->owner + h->size * k->size +
         h->offset * k->offset + h->slot * k->slot +
         h->footer_len * k->footer_len + h->kind * k->kind +
         sa_dbg_seal_free_terms(free_stack, free_tid, state);
}
static inline uint64_t sa_dbg_seal_of(const sa_dbg_header_t *h) {
  return sa_dbg_seal_with(h, h->free_stack, h->free_tid, h->state);
}
static inline bool sa_dbg_header_ok(const sa_dbg_header_t *h) {
  return h->canary == sa_dbg_canary_of(h) && h->seal == sa_dbg_seal_of(h);
}
/* Sets the seal after the fields changed (the canary is set once, with
 * the fields, by _sa_dbg_block_init or _sa_dbg_header_init). */
void _sa_dbg_seal(sa_dbg_header_t *h);
/* Sets the free's fields and the state of a sealed header, adding to the
 * seal the terms of their differences alone (the seal is linear in them:
 * a few instructions, not a whole seal; a damaged seal stays damaged). */
static inline void sa_dbg_reseal_free(sa_dbg_header_t *h, uint32_t free_stack,
                                      uint32_t free_tid, uint32_t state) {
  h->seal += sa_dbg_seal_free_terms((uint64_t)free_stack - h->free_stack,
                                    (uint64_t)free_tid - h->free_tid,
                                    (uint64_t)state - h->state);
  h->free_stack = free_stack;
  h->free_tid = free_tid;
  h->state = state;
}
/* The same for the state alone. */
static inline void sa_dbg_reseal_state(sa_dbg_header_t *h, uint32_t state) {
  h->seal += sa_dbg_seal_free_terms(0, 0, (uint64_t)state - h->state);
  h->state = state;
}
/* sa_dbg_header_ok, out of line for the callers off the hot paths. */
bool _sa_dbg_header_ok(const sa_dbg_header_t *h);
static inline bool sa_dbg_guarded(const sa_dbg_header_t *h) {
  return h->offset == 0;
}
static inline uint8_t *sa_dbg_user(const sa_dbg_header_t *h) {
  if (SA_UNLIKELY(sa_dbg_guarded(h)))
    return ((const sa_dbg_guard_t *)h)->user;
  return (uint8_t *)(h + 1);
}
static inline uint8_t *sa_dbg_base(const sa_dbg_header_t *h) {
  return sa_dbg_user(h) - h->offset;
}
/* Lays out a debug block in the core block at `base` (of `block_size`
 * bytes): lead, header fields but slot/owner/seal (see _sa_dbg_live_add),
 * junk and footer. Junk goes from user byte `junk_from` on: the bytes
 * before are zeroed or about to be copied over (size: no junk). */
sa_dbg_header_t *_sa_dbg_block_init(uint8_t *base, size_t block_size,
                                    size_t offset, size_t size,
                                    size_t junk_from, const void *frame,
                                    uint32_t tid);
/* The same for a guarded block (offset 0), whose user bytes are placed. */
void _sa_dbg_header_init(sa_dbg_header_t *h, size_t offset, size_t size,
                         size_t junk_from, const void *frame, uint32_t tid);
/* Verifies the footer (and a guarded block's head); reports an overflow
 * (underflow) and returns false. */
bool _sa_dbg_footer_check(const sa_dbg_header_t *h, const void *addr);
/* Poisons the user bytes of h within SA_DBG_FILL_EDGE of either end. */
void _sa_dbg_poison(const sa_dbg_header_t *h);
/* Verifies the poison of a quarantined block; reports a use-after-free. */
bool _sa_dbg_poison_check(const sa_dbg_header_t *h);
/* The live header of the block `p` starts, or NULL after reporting why
 * not: invalid-free (not a block start), `freed_kind` (a freed block),
 * heap-buffer-underflow or heap-corruption (a damaged header). */
sa_dbg_header_t *_sa_dbg_lookup(const void *p, sa_error_kind_t freed_kind);
/* Its common case, inline in free: p is ours, and the 64 bytes before it
 * (in the same segment, so mapped) are a live header. A header can't be
 * forged, and one sits exactly before its block's user bytes: p is a
 * block. NULL otherwise (no error yet: _sa_dbg_lookup finds out). */
static inline sa_dbg_header_t *sa_dbg_lookup_live(const void *p) {
  const sa_segment_t *seg = sa_segment_of(p);
  if (SA_LIKELY(seg != NULL && ((uintptr_t)p & (SA_MIN_ALIGN - 1)) == 0 &&
                (uintptr_t)p - (uintptr_t)seg >= 2 * SA_DBG_HEADER_SIZE)) {
    sa_dbg_header_t *h = (sa_dbg_header_t *)p - 1;
    if (SA_LIKELY(h->state == SA_DBG_LIVE && sa_dbg_header_ok(h)))
      return h;
  }
  return NULL;
}
/* Reports a header that isn't ok: heap-buffer-underflow when its canary
 * is damaged, else heap-corruption. */
void _sa_dbg_report_bad_header(const sa_dbg_header_t *h);
/* The header (in any state) of the block holding p, an interior pointer
 * or one into the header or footer; NULL when p is in no block of ours or
 * the block's header isn't intact (a core block never handed out, or
 * damaged). O(1): segment map, page, block, header. */
sa_dbg_header_t *_sa_dbg_header_of(const void *p);
/* Reports the use of freed block h through p (its start) by free,
 * realloc or usable_size: `kind`, with `note` appended to the detail. */
void _sa_dbg_report_freed(const sa_dbg_header_t *h, const void *p,
                          sa_error_kind_t kind, const char *note);
/* Remembers a large or huge block handed back to the core (its memory may
 * go back to the OS, header and all), so that a second free of it is
 * still named a double-free; bounded: the most recent ones. */
void _sa_dbg_note_released(const sa_dbg_header_t *h);

/* ---- registry.c ---- */
extern __thread sa_dbg_thread_t *_sa_dbg_tls
    __attribute__((tls_model("initial-exec")));
/* Creates or adopts the calling thread's registry; NULL when out of memory. */
sa_dbg_thread_t *_sa_dbg_thread_attach(void);
/* The calling thread's registry. */
static inline sa_dbg_thread_t *sa_dbg_thread(void) {
  sa_dbg_thread_t *t = _sa_dbg_tls;
  return SA_LIKELY(t != NULL) ? t : _sa_dbg_thread_attach();
}
/* A marker of the calling thread, never 0, for sa_dbg_lock_t. */
extern __thread char _sa_dbg_self __attribute__((tls_model("initial-exec")));
void _sa_dbg_lock_wait(sa_dbg_lock_t *l, uintptr_t self);
static inline void sa_dbg_lock(sa_dbg_lock_t *l) {
  uintptr_t self = (uintptr_t)&_sa_dbg_self, free_ = 0;
  if (atomic_load_explicit(&l->holder, memory_order_relaxed) == self)
    l->depth++;
  else if (SA_LIKELY(atomic_compare_exchange_strong_explicit(
               &l->holder, &free_, self, memory_order_acquire,
               memory_order_relaxed)))
    l->depth = 1;
  else
    _sa_dbg_lock_wait(l, self);
}
static inline void sa_dbg_unlock(sa_dbg_lock_t *l) {
  if (--l->depth == 0)
    atomic_store_explicit(&l->holder, 0, memory_order_release);
}
/* Lists h in t, the calling thread's registry (unlocked), and seals its
 * header, whose free's fields and state are as the block's init set them;
 * false when out of memory. */
bool _sa_dbg_live_add(sa_dbg_thread_t *t, sa_dbg_header_t *h);
/* Takes h, a live block, out of use (the free's backtrace from `frame`):
 * out of its owner's live table, under the owner's lock (two threads
 * freeing it at once: only one finds it listed; false for the other, h
 * untouched); its free's fields and state sealed in (QUARANTINED if
 * `intact`, else RELEASED: a damaged block is kept out of use); if intact
 * and not guarded, poisoned and queued in the calling thread's
 * quarantine, the blocks that pushes out released. A thread freeing its
 * own block takes one lock; another thread's, its owner's then its own.
 * A guarded block is left to _sa_dbg_guard_retire. */
bool _sa_dbg_retire(sa_dbg_header_t *h, bool intact, const void *frame);
/* With t locked: takes out its oldest quarantined block; NULL when none. */
sa_dbg_header_t *_sa_dbg_quarantine_oldest(sa_dbg_thread_t *t);
/* Verifies the poison of a block out of quarantine and hands it back to
 * the core; one written after free is reported and kept out of use. */
void _sa_dbg_release(sa_dbg_header_t *h);
/* Calls `visit` on every registry, its lock held, walkers serialised. */
void _sa_dbg_for_each_thread(void (*visit)(sa_dbg_thread_t *t, void *ctx),
                             void *ctx);
/* The header in live slot i, or NULL for a free slot. */
static inline sa_dbg_header_t *sa_dbg_live_at(const sa_dbg_thread_t *t,
                                              uint32_t i) {
  uintptr_t entry = atomic_load_explicit(&t->live[i], memory_order_acquire);
  return (entry & 1) ? NULL : (sa_dbg_header_t *)entry;
}

/* ---- hooks.c (beyond hooks.h) ---- */
/* C++ (cxx.cc): operator new (new[] if `array`) after its argument
 * checks, NULL when out of memory; operator delete (delete[]), `size`
 * the sized delete's or SA_DBG_UNSIZED. Declared again in cxx.cc. */
#define SA_DBG_UNSIZED SIZE_MAX
void *_sa_dbg_new(size_t size, size_t align, bool array, const void *frame);
void _sa_dbg_delete(void *p, bool array, size_t size, const void *frame);

/* ---- guard.c ---- */
extern uint8_t *_sa_dbg_guard_pool;        /* NULL until the first guard */
extern _Atomic size_t _sa_dbg_guard_bytes; /* the pool's size */
extern __thread uint32_t _sa_dbg_guard_countdown
    __attribute__((tls_model("initial-exec")));
static inline bool sa_dbg_in_guard_pool(const void *p) {
  return (uintptr_t)p - (uintptr_t)_sa_dbg_guard_pool <
         atomic_load_explicit(&_sa_dbg_guard_bytes, memory_order_relaxed);
}
/* Draws the next countdown; whether this allocation is sampled. */
bool _sa_dbg_guard_sample(void);
/* Call sites seen (SEGALLOC_GUARD=sites:n): one flag per hash of a
 * malloc's return address; set, never cleared. */
#define SA_DBG_SITE_BITS 16
extern _Atomic(uint8_t) _sa_dbg_guard_sites[1u << SA_DBG_SITE_BITS];
/* Marks the site seen; whether this call did (it guards the block). */
bool _sa_dbg_guard_new_site(size_t index);
/* Whether a new block should be guarded: none, all, or about one in
 * guard_every (a thread-local countdown: the common case is one
 * decrement); with guard_sites, also the first from each call site (the
 * return address from `frame`, the allocating function's frame: one load
 * of a flag). */
static inline bool sa_dbg_guard_wanted(const void *frame) {
  uint32_t every = _sa_dbg_options.guard_every;
  if (every <= 1)
    return every == 1;
  if (_sa_dbg_options.guard_sites) {
    uintptr_t site = (uintptr_t)((const void *const *)frame)[1];
    size_t index =
        (size_t)((site * 0x9e3779b97f4a7c15ULL) >> (64 - SA_DBG_SITE_BITS));
    if (SA_UNLIKELY(atomic_load_explicit(&_sa_dbg_guard_sites[index],
                                         memory_order_relaxed) == 0) &&
        _sa_dbg_guard_new_site(index))
      return true;
  }
  uint32_t left = _sa_dbg_guard_countdown;
  if (SA_LIKELY(left > 1)) {
    _sa_dbg_guard_countdown = left - 1;
    return false;
  }
  return _sa_dbg_guard_sample();
}
/* A guarded block's header, fields set but slot/owner/seal (see
 * _sa_dbg_live_add); `align` 0 is malloc's (guard.c). NULL when no guard
 * can be had (too aligned or large,
 * pool full, the kernel refusing mappings): the caller uses a canary
 * block instead. */
sa_dbg_header_t *_sa_dbg_guard_alloc(size_t size, size_t align, bool zero,
                                     const void *frame, uint32_t tid);
/* The accessible bytes around a guarded block's user bytes: before them
 * (a right-side guard's alignment slack: a head, filled and checked like
 * the footer) and after them (the footer). */
uint8_t *_sa_dbg_guard_start(const sa_dbg_header_t *h);
uint8_t *_sa_dbg_guard_end(const sa_dbg_header_t *h);
/* Takes a freed guarded block (unlisted, its state set): its run becomes
 * inaccessible and joins the guard quarantine. */
void _sa_dbg_guard_retire(sa_dbg_header_t *h);
/* As _sa_dbg_header_of, for p in the guard pool: the block whose run
 * (guard page included) holds p. */
sa_dbg_header_t *_sa_dbg_guard_header_of(const void *p);
/* As _sa_dbg_lookup, for p in the guard pool. */
sa_dbg_header_t *_sa_dbg_guard_lookup(const void *p,
                                      sa_error_kind_t freed_kind);
void _sa_dbg_guard_init_fork(void);

/* ---- memory.c ---- */
/* The allocator's own memcpy, memmove and memset (internal.h routes its
 * calls here): libc's, never the drop-ins' checked ones (checked.c). */
void *_sa_dbg_memcpy(void *restrict dst, const void *restrict src, size_t n);
void *_sa_dbg_memmove(void *dst, const void *src, size_t n);
void *_sa_dbg_memset(void *dst, int c, size_t n);
/* Whether [p, p + n) may touch a block of ours: a segment map look-up and
 * a guard pool range check at each end, the whole cost of a check on
 * memory that isn't ours. */
static inline bool sa_dbg_may_touch_heap(const void *p, size_t n) {
  const void *last = (const void *)((uintptr_t)p + n - 1);
  return sa_segment_of(p) != NULL || sa_segment_of(last) != NULL ||
         sa_dbg_in_guard_pool(p) || sa_dbg_in_guard_pool(last);
}
/* Checks an access of `fn` (READ, or WRITE if `write`) to [p, p + n) that
 * touches a block of ours: outside the block's requested bytes it is a
 * heap-buffer-overflow or -underflow, in a freed block a use-after-free;
 * reported (the backtrace from `frame`) before the access is made. False
 * after a report. */
bool _sa_dbg_check_range(const void *p, size_t n, bool write, const char *fn,
                         const void *frame);
/* strnlen(s, max) for `fn`, reading no further than the end of the block
 * s lies in: a string unterminated within its block is reported as a
 * READ overflow (then measured anyway). Also checks the read of the
 * string and its terminator (if within max) as _sa_dbg_check_range. */
size_t _sa_dbg_strnlen(const char *s, size_t max, const char *fn,
                       const void *frame);
/* ---- stack.c ---- */
/* Reserves the depot (at init: no allocation yet). */
void _sa_dbg_stack_init(void);
/* The id of the backtrace from `frame` (the frame of a caller), of
 * `depth` frames at most: SA_DBG_TRACE_DEPTH or SA_DBG_FREE_DEPTH;
 * stored if new; 0 when there is none or the depot is full. */
uint32_t _sa_dbg_stack_capture(size_t depth, const void *frame);
/* Empties t's backtrace cache. */
void _sa_dbg_forget_traces(sa_dbg_thread_t *t);
/* The frames of backtrace `id` (SA_DBG_TRACE_DEPTH, NULL-padded); NULL
 * for 0 or an id never handed out. */
const void *const *_sa_dbg_stack_frames(uint32_t id);
/* Captures up to `depth` return addresses, starting with `frame`'s (a
 * frame of the calling thread's stack); the rest are NULL. */
void _sa_dbg_backtrace(const void **out, size_t depth, const void *frame);
/* Whether p lies in the calling thread's stack, above the caller. */
bool _sa_dbg_on_stack(const void *p);
/* A faulting access's backtrace: pc first, then the frames from fp, which
 * lie between sp and the top of the stack. */
void _sa_dbg_backtrace_at(const void **out, size_t depth, const void *pc,
                          const void *fp, const void *sp);

/* ---- report.c ---- */
/* Reports one error (the handler, or a report then abort/continue); `h`
 * adds the block's backtraces; `detail` is a printf format. */
void _sa_dbg_report(const segalloc_error_t *err, const sa_dbg_header_t *h,
                    const char *detail, ...)
    __attribute__((format(printf, 3, 4)));
/* The same, its "found" backtrace starting at `frame`'s caller (e.g. the
 * program's call to a checked memcpy) rather than inside segalloc. */
void _sa_dbg_report_from(const void *frame, const segalloc_error_t *err,
                         const sa_dbg_header_t *h, const char *detail, ...)
    __attribute__((format(printf, 4, 5)));
/* The same for a faulting access (guard.c): its backtrace `access`
 * (SA_DBG_REPORT_DEPTH frames) comes first, instead of the reporter's. */
void _sa_dbg_report_access(const segalloc_error_t *err,
                           const sa_dbg_header_t *h, const void *const *access,
                           const char *detail, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* SEGALLOC_DEBUG_INTERNAL_H */
