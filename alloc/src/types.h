/* Every core type, constant and build switch of segalloc, in one place.
 *
 * Memory comes from the OS in segments: SA_SEGMENT_SIZE bytes, aligned to
 * their size, so the segment of any pointer is found with a mask (after the
 * segment map says the address is ours). A small or medium segment is cut
 * into equal pages; each page in use holds blocks of one size class and is
 * owned, with its segment, by one thread heap. A huge segment holds a
 * single block and belongs to no heap. */
#ifndef SEGALLOC_TYPES_H
#define SEGALLOC_TYPES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 1 in the debug build (//debug): turns on the hooks in hooks.h. */
#ifndef SEGALLOC_DEBUG
#define SEGALLOC_DEBUG 0
#endif

/* Fuzzer proof of power (fuzz/bug_hunt.sh): 1 = a size-class off-by-one,
 * 2 = remote frees dropped, 3 = realloc copies one byte too few, 4 = the
 * debug build's check of a freed block misses its last byte. Only
 * fuzz/build.sh may set it (with SEGALLOC_FUZZ_BUILD). */
#ifndef SEGALLOC_INJECT_BUG
#define SEGALLOC_INJECT_BUG 0
#endif
#if SEGALLOC_INJECT_BUG && !defined(SEGALLOC_FUZZ_BUILD)
#error "SEGALLOC_INJECT_BUG plants a bug: only fuzz/build.sh sets it"
#endif

#define SA_LIKELY(x) __builtin_expect(!!(x), 1)
#define SA_UNLIKELY(x) __builtin_expect(!!(x), 0)

#define SA_MIN_ALIGN 16 /* every block is at least this aligned */

#define SA_SEGMENT_SHIFT 22 /* 4 MiB segments */
#define SA_SEGMENT_SIZE ((size_t)1 << SA_SEGMENT_SHIFT)
#define SA_SMALL_PAGE_SHIFT 16  /* 64 KiB pages: 64 per segment */
#define SA_MEDIUM_PAGE_SHIFT 19 /* 512 KiB pages: 8 per segment */
#define SA_MAX_PAGES (SA_SEGMENT_SIZE >> SA_SMALL_PAGE_SHIFT)

/* Size classes: 16-byte steps up to 128, then 4 classes per power of two
 * (waste under 20%) up to SA_LARGE_MAX. Classes up to SA_SMALL_MAX live in
 * small pages, the others in medium pages (at least 3 blocks a page, so
 * that a few blocks of each class above 64 KiB share a segment rather
 * than hold one each); anything above in huge segments. */
#define SA_CLASS_COUNT 48
#define SA_SMALL_MAX ((size_t)8192)
/* Above it, blocks are huge: page-granular (no class rounding) and
 * reused through the huge cache. 128 KiB: a 1 MB buffer in a 1 MiB class
 * would waste a quarter of its page, and classes of 1 MiB would need
 * pages of several MiB (Python keeps a few such blocks: under ulimit -v it
 * lost 9 segments' worth with 512 KiB in segments of their own). */
#define SA_LARGE_MAX ((size_t)1 << 17)

/* realloc resizes in place a block alone at the start of its page by
 * changing the page's class (alloc.c) from this size up: below, a copy
 * costs less than the page its old class may have to take again. */
#define SA_RESIZE_MIN ((size_t)1024)

/* The largest alignment aligned allocation accepts; the segment map can
 * point back at most 255 segments from a huge block's start. */
#define SA_MAX_ALIGN ((size_t)1 << 28)

/* Released pages of a segment stay resident (reused first, no page
 * faults) until this much of them has piled up in a segment at most a
 * quarter in use, and the segment has then reused none of them for
 * SA_PURGE_DELAY_MS; a release after that purges them (delayed, as
 * mimalloc's purge delay: a program that frees a phase's blocks and
 * allocates the next phase's refaults nothing). With no release to come
 * there is no later: a release that leaves one page in use purges at once.
 * Two medium pages: a page released and taken again in a loop (realloc
 * moves pages between classes) must not be purged and faulted back each
 * time. Never in the debug build: its frees leave the quarantine oldest
 * first, so a mostly empty segment is soon filled again, and each purge
 * made the next quarantine cycle fault every page back in (realloc-steps:
 * 2 page faults per realloc, half its time); there pages come back with
 * their whole segment. */
#if SEGALLOC_DEBUG
#define SA_PURGE_BYTES SIZE_MAX
#else
#define SA_PURGE_BYTES ((size_t)1 << 20)
#endif
#define SA_PURGE_DELAY_MS 100

/* Empty segments kept mapped for reuse, so churn doesn't cost a syscall
 * per call. */
#define SA_SEGMENT_CACHE 4
/* Freed huge mappings kept resident for reuse (huge.c): at most
 * SA_HUGE_CACHE of them, holding at most SA_HUGE_CACHE_BYTES or half
 * of the live huge bytes if more; each is unmapped once it has been unused
 * for SA_HUGE_DECAY_MS. */
#define SA_HUGE_CACHE 64
#define SA_HUGE_CACHE_BYTES ((size_t)64 << 20)
#define SA_HUGE_DECAY_MS 250

typedef enum sa_segment_kind_e {
  SA_SEGMENT_SMALL,
  SA_SEGMENT_MEDIUM,
  SA_SEGMENT_HUGE,
} sa_segment_kind_t;
#define SA_PAGE_KINDS 2 /* the kinds cut into pages: small, medium */

/* Error classes, in the order of segalloc_error_kind_t (segalloc_debug.h). */
typedef enum sa_error_kind_e {
  SA_ERR_DOUBLE_FREE,
  SA_ERR_INVALID_FREE,
  SA_ERR_HEAP_BUFFER_OVERFLOW,
  SA_ERR_HEAP_BUFFER_UNDERFLOW,
  SA_ERR_USE_AFTER_FREE,
  SA_ERR_HEAP_CORRUPTION,
  SA_ERR_LEAK,
  SA_ERR_ALLOC_DEALLOC_MISMATCH, /* debug build: free of new, delete of new[] */
  SA_ERR_NEW_DELETE_SIZE_MISMATCH, /* debug build: sized delete, wrong size */
} sa_error_kind_t;

/* A free block: the core writes only this first word of a free block, the
 * next block of its list xor'ed with the page's key (sa_block_next). */
typedef struct sa_block_s {
  uintptr_t link;
} sa_block_t;

struct sa_heap_s;

/* The state of a page kept in the low bits of its `thread_free` word, so a
 * remote free reads it and publishes its block in one CAS and touches
 * nothing of the page, segment or heap after that CAS (the owner may have
 * collected the block and released them all by then). */
#define SA_TF_NORMAL 0u /* in a class queue: a remote free just pushes */
#define SA_TF_FULL 1u   /* in the full list: a remote free tells the owner */
#define SA_TF_NOTIFYING                                                        \
  2u /* a remote free is telling the owner (before it                          \
        publishes its block, so the page is alive) */
#define SA_TF_MASK 3u
/* The word's top bits count the blocks on its list (user addresses are
 * below 2^47, as the segment map assumes), so the owner takes the list and
 * its length in one exchange and never walks it. */
#define SA_TF_COUNT_SHIFT 47

/* A page: blocks of one size class. Malloc pops `free` and a local free
 * pushes onto it: the block freed last is handed out next, while it is
 * still in cache (a separate local list, as mimalloc's, gave larson twice
 * the simulated L1 misses). Other threads push `thread_free`, which the
 * owner collects when `free` runs out.
 * Invariants (checked by segalloc_check_heap):
 *  - in_use == 0: the page holds nothing and is in no queue.
 *  - block_size is its class's, a class of its segment's kind (realloc
 *    may change the class of a page in use: _sa_page_resize);
 *    block_magic == sa_div_magic(block_size).
 *  - capacity <= reserved; the first `capacity` blocks of the area have been
 *    handed out at least once, the rest are untouched.
 *  - used + |free| == capacity, the lists holding distinct blocks among
 *    the first `capacity`; |thread_free| <= used (remote frees
 *    count as used until the owner collects them), and equals the count in
 *    the word's top bits.
 *  - in_full == 1 exactly when the page is in its heap's full list rather
 *    than the queue of its class; then its state is FULL or NOTIFYING.
 *    used == 0 implies state NORMAL (a notifier holds an unpublished block).
 *  - dirty: not in use, and its memory not given back since it was. */
/* Cache-line aligned, the fields of the malloc and free fast paths in the
 * first line; `thread_free`, which other threads write, in the second. */
typedef struct sa_page_s {
  _Alignas(64) sa_block_t *free; /* owner thread only: malloc pops and
                                    free pushes */
  uintptr_t key; /* encodes the links of the page's free lists */
  uint32_t used;
  _Atomic(uint32_t) capacity; /* grown by the owner, read by frees and
                                 reallocs of aligned blocks anywhere */
  uint32_t reserved;
  uint32_t block_size;
  uint8_t *area; /* first block */
  uint8_t size_class;
  uint8_t in_use;
  /* The free fast path reads both flags at once, as `slow_free` (only the
   * owner writes them, so its reads don't race). */
  union {
    struct {
      uint8_t in_full;              /* owner thread only */
      _Atomic(uint8_t) has_aligned; /* may hold interior pointers; set by
                                       the owner, read by frees anywhere */
    };
    uint16_t slow_free; /* owner thread only: nonzero if either is set */
  };
  uint8_t dirty;        /* released, its memory still resident */
  uint64_t block_magic; /* offset / block_size without a division */
  _Alignas(64) _Atomic(uintptr_t) thread_free; /* count | list pushed by
                                                  others | state */
  struct sa_page_s *next, *prev;               /* class queue or full list */
} sa_page_t;

/* A segment header sits at the start of its mapping.
 * Invariants: cookie == sa_segment_cookie(self); every SA_SEGMENT_SIZE chunk
 * of the mapping has a segment-map entry leading back here; pages_in_use
 * counts pages with in_use set; dirty_pages counts dirty pages, which hold
 * less than SA_PURGE_BYTES if at most a quarter of the pages are in use,
 * unless a purge is due (purge_due_ms != 0); a
 * small/medium segment is in its owner's `owned` list, and in its `avail` list
 * iff pages_in_use < page_count; an abandoned one (heap == NULL) is in the
 * global abandoned list. */
typedef struct sa_segment_s {
  uintptr_t cookie;
  sa_segment_kind_t kind;
  uint32_t page_shift;
  uint32_t page_count;
  uint32_t pages_in_use;
  uint32_t dirty_pages;
  uint64_t purge_due_ms;            /* 0, or when to purge the dirty pages */
  _Atomic(struct sa_heap_s *) heap; /* owner; NULL: abandoned or huge (so
                                       the free fast path, which compares
                                       it with its own heap, skips both) */
  size_t mapped_size;               /* whole mapping */
  struct sa_segment_s *all_next, *all_prev;     /* global list */
  struct sa_segment_s *owned_next, *owned_prev; /* owner's or abandoned */
  struct sa_segment_s *avail_next, *avail_prev; /* owner's with free pages */
  uint8_t *huge_block; /* huge: the block (after header and alignment) */
  size_t huge_size;    /* huge: usable bytes from huge_block to the end */
  sa_page_t pages[];   /* page_count entries (none for huge) */
} sa_segment_t;

/* Entries of a heap's cache of the segments it owns (a power of two). */
#define SA_OWN_CACHE 16

/* A thread heap: the per-thread cache. Only its thread touches it, except
 * `full_has_remote`, which a remote free sets (while it holds a full page
 * of the heap in state NOTIFYING) to have the owner sweep its full list.
 * Heaps are never unmapped: a dead thread's heap is recycled.
 * Invariant: own_chunks[i] is 0 or ~c, where chunk c (address >>
 * SA_SEGMENT_SHIFT) starts a segment the heap owns and c % SA_OWN_CACHE
 * == i. The free fast path trusts a pointer whose chunk is there as being
 * in a segment of this thread's, without the segment map (~: 0, the empty
 * entry, matches no chunk, not even chunk 0). */
typedef struct sa_heap_s {
  sa_page_t *pages[SA_CLASS_COUNT]; /* head: the page malloc takes from */
  uintptr_t own_chunks[SA_OWN_CACHE];
  sa_page_t *full;                    /* pages with nothing free */
  sa_segment_t *owned[SA_PAGE_KINDS]; /* by kind */
  sa_segment_t *avail[SA_PAGE_KINDS]; /* owned, with a free page */
  _Atomic(bool) full_has_remote;
  struct sa_heap_s *next_pooled; /* recycled, waiting for a new thread */
} sa_heap_t;

#endif /* SEGALLOC_TYPES_H */
