/* Cross-file functions of the core, grouped by the file that defines them,
 * and the few inline helpers the fast paths share. `_sa_` names are
 * internal to the library; `static` helpers stay in their file. */
#ifndef SEGALLOC_INTERNAL_H
#define SEGALLOC_INTERNAL_H

#include "types.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Internal invariants (those written beside the structs in types.h), at
 * the points where they are cheap to check: on in the debug build and in
 * `-c dbg` builds (alloc/BUILD sets SEGALLOC_ASSERT), off in production. */
#ifndef SEGALLOC_ASSERT
#define SEGALLOC_ASSERT SEGALLOC_DEBUG
#endif
#if SEGALLOC_ASSERT
#define sa_assert_internal(cond)                                               \
  do {                                                                         \
    if (SA_UNLIKELY(!(cond))) {                                                \
      _sa_message("internal check failed: %s (%s:%d)", #cond, __FILE__,        \
                  __LINE__);                                                   \
      abort();                                                                 \
    }                                                                          \
  } while (0)
#else
#define sa_assert_internal(cond) ((void)0)
#endif

/* Intrusive doubly-linked lists (pages, segments, heaps), by the names of
 * their link fields. `next` ends in NULL; the head's `prev` is the tail,
 * so that appending is O(1) (as musl mallocng's queue/dequeue). */
#define SA_LIST_PUSH(head, node, next, prev)                                   \
  do {                                                                         \
    __typeof__(node) *sa_head_ = &(head), sa_node_ = (node);                   \
    sa_node_->next = *sa_head_;                                                \
    sa_node_->prev = *sa_head_ != NULL ? (*sa_head_)->prev : sa_node_;         \
    if (*sa_head_ != NULL)                                                     \
      (*sa_head_)->prev = sa_node_;                                            \
    *sa_head_ = sa_node_;                                                      \
  } while (0)

#define SA_LIST_APPEND(head, node, next, prev)                                 \
  do {                                                                         \
    __typeof__(node) *sa_head_ = &(head), sa_node_ = (node);                   \
    sa_node_->next = NULL;                                                     \
    if (*sa_head_ == NULL) {                                                   \
      sa_node_->prev = sa_node_;                                               \
      *sa_head_ = sa_node_;                                                    \
    } else {                                                                   \
      sa_node_->prev = (*sa_head_)->prev;                                      \
      (*sa_head_)->prev->next = sa_node_;                                      \
      (*sa_head_)->prev = sa_node_;                                            \
    }                                                                          \
  } while (0)

#define SA_LIST_REMOVE(head, node, next, prev)                                 \
  do {                                                                         \
    __typeof__(node) *sa_head_ = &(head), sa_node_ = (node);                   \
    if (sa_node_ == *sa_head_) {                                               \
      *sa_head_ = sa_node_->next;                                              \
      if (*sa_head_ != NULL)                                                   \
        (*sa_head_)->prev = sa_node_->prev;                                    \
    } else {                                                                   \
      sa_node_->prev->next = sa_node_->next;                                   \
      (sa_node_->next != NULL ? sa_node_->next : *sa_head_)->prev =            \
          sa_node_->prev;                                                      \
    }                                                                          \
    sa_node_->next = sa_node_->prev = NULL;                                    \
  } while (0)

/* `x` rounded up to a multiple of `align`, a power of two. */
static inline size_t sa_align_up(size_t x, size_t align) {
  return (x + align - 1) & ~(align - 1);
}

#if SEGALLOC_DEBUG
/* The debug build's drop-ins export checked memcpy, memmove and memset
 * (debug/src/checked.c). The allocator's own copies and fills, which touch
 * headers, footers and freed blocks on purpose, bypass them: every call,
 * explicit or made by the compiler (gcc; clang only the explicit ones),
 * goes to these unchecked ones (debug/src/memory.c). */
void *memcpy(void *restrict dst, const void *restrict src,
             size_t n) __asm__("_sa_dbg_memcpy");
void *memmove(void *dst, const void *src, size_t n) __asm__("_sa_dbg_memmove");
void *memset(void *dst, int c, size_t n) __asm__("_sa_dbg_memset");
#endif

/* ---- os.c: the whole contract with the operating system ---- */
/* None of these changes errno. */
/* Maps `size` bytes (a multiple of the OS page) aligned to `align` (a power
 * of two >= the OS page); NULL when the OS refuses. */
void *_sa_os_map_aligned(size_t size, size_t align);
void _sa_os_unmap(void *addr, size_t size);
/* Grows the mapping [addr, addr+old_size) to new_size bytes where it is,
 * into free address space after it; false (mapping untouched) if it can't. */
bool _sa_os_extend(void *addr, size_t old_size, size_t new_size);
/* Moves the pages of the mapping [old, old+old_size) into the mapping `to`
 * of new_size bytes (which they replace) without copying; false (both
 * untouched) when it can't. */
bool _sa_os_move(void *old, size_t old_size, void *to, size_t new_size);
/* The same into a new aligned mapping; NULL (old untouched) when it can't. */
void *_sa_os_remap_aligned(void *old, size_t old_size, size_t new_size,
                           size_t align);
/* Gives the pages back to the OS, keeping the range mapped and zeroed. */
void _sa_os_purge(void *addr, size_t size);
/* Asks for transparent huge pages where the kernel leaves it to us. */
void _sa_os_prefer_huge_pages(void *addr, size_t size);
/* Reserves `size` bytes (a multiple of the OS page) of address space,
 * zeroed and readable/writable if `access`, else inaccessible; NULL when
 * refused. Not counted as mapped memory. */
void *_sa_os_reserve(size_t size, bool access);
/* Makes the pages of a reservation readable and writable, or inaccessible
 * again with their memory given back; false when the kernel refuses
 * (ENOMEM: e.g. vm.max_map_count mappings). */
bool _sa_os_protect(void *addr, size_t size, bool access);
/* How many mappings the kernel allows a process (vm.max_map_count); 0 if
 * unknown. */
size_t _sa_os_max_mappings(void);
size_t _sa_os_page_size(void);
size_t _sa_os_mapped_bytes(void);
/* A monotonic clock in milliseconds, cheap (no syscall), coarse (a tick). */
uint64_t _sa_os_now_ms(void);
/* Prints one line "segalloc: <fmt>" to stderr without allocating. */
void _sa_message(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- size_class.c ---- */
extern const uint32_t _sa_class_size[SA_CLASS_COUNT];
/* The class of sizes up to 1024, by (size + 15) / 16: one load on the
 * malloc fast path instead of the arithmetic below. */
extern const uint8_t _sa_small_class[1024 / 16 + 1];

/* The smallest class holding `size` bytes (size <= SA_LARGE_MAX). */
static inline unsigned sa_size_class(size_t size) {
#if SEGALLOC_INJECT_BUG != 1
  if (size <= 1024)
    return _sa_small_class[(size + 15) >> 4];
#endif
  if (size <= 128)
    return size == 0 ? 0 : (unsigned)((size - 1) >> 4);
#if SEGALLOC_INJECT_BUG == 1
  size -= size % 64 == 1; /* one byte short just past some boundaries */
#endif
  unsigned bit = 63u - (unsigned)__builtin_clzl(size - 1); /* >= 7 */
  unsigned quarter = (unsigned)((size - 1) >> (bit - 2)) & 3u;
  return 8u + (bit - 7u) * 4u + quarter;
}

/* Division by a block size as a multiply and a shift (jemalloc's div_info,
 * in 64 bits): the debug build finds the block of every pointer its checked
 * memcpy & co get, and a division cost more than the rest of the look-up.
 * With magic = floor(2^K / d) + 1 = (2^K + e) / d, 0 < e <= d, and n = q*d + r:
 * n * magic / 2^K = q + (r + n*e / 2^K) / d, and n*e / 2^K < 1 when
 * n < 2^K / d, so the floor is q. K = 40 makes that hold for every offset
 * in a segment (2^22) and every class (<= 2^17), and n * magic < 2^59
 * does not overflow; tests/div_test.c checks every class and offset of a
 * page. */
#define SA_DIV_SHIFT 40
_Static_assert((SA_SEGMENT_SIZE * SA_LARGE_MAX) >> SA_DIV_SHIFT == 0,
               "sa_div_by is exact for offsets in a segment");

static inline uint64_t sa_div_magic(uint32_t d) {
  return ((uint64_t)1 << SA_DIV_SHIFT) / d + 1;
}

/* n / d for n < SA_SEGMENT_SIZE, d <= SA_LARGE_MAX, magic = sa_div_magic(d). */
static inline size_t sa_div_by(size_t n, uint64_t magic) {
  return (size_t)(((uint64_t)n * magic) >> SA_DIV_SHIFT);
}

/* The kind of page that holds the blocks of class `cls`. */
static inline sa_segment_kind_t sa_class_kind(unsigned cls) {
  return _sa_class_size[cls] <= SA_SMALL_MAX ? SA_SEGMENT_SMALL
                                             : SA_SEGMENT_MEDIUM;
}

/* ---- segment.c: segments, their pages, the segment map ---- */
#define SA_MAP_BITS (47 - SA_SEGMENT_SHIFT)
/* Per SA_SEGMENT_SIZE chunk of the address space: 0 when not ours, else
 * 1 + how many chunks back its segment starts (255: too far to say). In
 * two levels: a leaf of 2^SA_MAP_LEAF_BITS entries (64 GiB of address
 * space) is mapped when a segment first lands in its range, and kept;
 * a flat map would hold 32 MiB of address space, an eighth of a 256 MiB
 * ulimit -v. */
#define SA_MAP_LEAF_BITS 14
#define SA_MAP_LEAVES ((size_t)1 << (SA_MAP_BITS - SA_MAP_LEAF_BITS))
typedef _Atomic(uint8_t) sa_map_leaf_t[(size_t)1 << SA_MAP_LEAF_BITS];
extern _Atomic(sa_map_leaf_t *) _sa_segment_map[SA_MAP_LEAVES];

static inline uintptr_t sa_segment_cookie(const sa_segment_t *seg) {
  return (uintptr_t)seg ^ (uintptr_t)0x5e6a110c5e6a110cULL;
}

/* The segment-map entry of p's chunk (0 when p is not in memory of ours). */
static inline unsigned sa_map_entry(const void *p) {
  uintptr_t chunk = (uintptr_t)p >> SA_SEGMENT_SHIFT;
  if (SA_UNLIKELY(chunk >= ((uintptr_t)1 << SA_MAP_BITS)))
    return 0;
  sa_map_leaf_t *leaf = atomic_load_explicit(
      &_sa_segment_map[chunk >> SA_MAP_LEAF_BITS], memory_order_acquire);
  if (SA_UNLIKELY(leaf == NULL))
    return 0;
  return atomic_load_explicit(
      &(*leaf)[chunk & (((uintptr_t)1 << SA_MAP_LEAF_BITS) - 1)],
      memory_order_relaxed);
}

/* The segment holding `p`, or NULL when p is not in memory of ours. */
static inline sa_segment_t *sa_segment_of(const void *p) {
  unsigned back = sa_map_entry(p);
  if (SA_UNLIKELY(back == 0 || back == 255))
    return NULL;
  uintptr_t chunk = (uintptr_t)p >> SA_SEGMENT_SHIFT;
  return (sa_segment_t *)((chunk - (back - 1)) << SA_SEGMENT_SHIFT);
}

static inline sa_page_t *sa_page_of(sa_segment_t *seg, const void *p) {
  return &seg->pages[((uintptr_t)p - (uintptr_t)seg) >> seg->page_shift];
}

/* Marks (or clears) the map entries of a mapping, whose leaves exist. */
void _sa_segment_map_set(sa_segment_t *seg, size_t mapped_size, bool ours);
/* Maps the map leaves covering [addr, addr+size) that don't exist yet;
 * false if the OS refuses. */
bool _sa_segment_map_reserve(const void *addr, size_t size);
/* Maps memory for a segment (aligned to SA_SEGMENT_SIZE or more) and the
 * map leaves covering it; when the OS refuses, gives back the cached
 * segments and huge ranges and tries again. NULL when that fails too. */
void *_sa_segment_map_memory(size_t size, size_t align);
/* A page of `kind` for `heap` from its own segments, an abandoned one it
 * adopts, or a new one; NULL when out of memory. */
sa_page_t *_sa_page_alloc(sa_heap_t *heap, sa_segment_kind_t kind);
/* Returns an empty page to its segment (and the segment to the OS or the
 * cache when it empties). The page is in no queue. */
void _sa_page_release(sa_heap_t *heap, sa_page_t *page);
/* At thread exit: empty segments are released, the rest abandoned. */
void _sa_heap_abandon_segments(sa_heap_t *heap);
/* Takes over abandoned `seg` (NULL: any), queueing its pages; false if
 * it is not abandoned (or, with NULL, if none is). */
bool _sa_segment_adopt(sa_heap_t *heap, sa_segment_t *seg);
/* One past the last byte of the page. */
uint8_t *_sa_page_end(const sa_segment_t *seg, const sa_page_t *page);
/* Links a new huge segment into the global list, or unlinks it. */
void _sa_segment_register(sa_segment_t *seg);
void _sa_segment_unregister(sa_segment_t *seg);

/* The global segment list (and abandoned list), for the heap walk, fork. */
extern pthread_mutex_t _sa_segments_lock;
extern sa_segment_t *_sa_all_segments;

/* ---- page.c: page queues and the slow paths ---- */
/* The list of a page's `thread_free` word, and its length. */
static inline sa_block_t *sa_tf_list(uintptr_t word) {
  return (sa_block_t *)(word & (((uintptr_t)1 << SA_TF_COUNT_SHIFT) - 1) &
                        ~(uintptr_t)SA_TF_MASK);
}

static inline uint32_t sa_tf_count(uintptr_t word) {
  return (uint32_t)(word >> SA_TF_COUNT_SHIFT);
}

/* Moves the blocks other threads freed into the page's free list. */
void _sa_page_collect_remote(sa_page_t *page);
/* The page's heap is going away: its state goes back to NORMAL (after any
 * remote free still telling the heap about it is done). */
void _sa_page_abandon(sa_page_t *page);
/* In a fork child: ends a NOTIFYING state whose notifier didn't survive. */
void _sa_page_after_fork(sa_page_t *page);
/* A local free made the page empty or was the first into a full page. */
void _sa_page_after_local_free(sa_heap_t *heap, sa_page_t *page);
/* A free from a thread that doesn't own the page; false when it adopted
 * the segment instead, and the caller must free the block locally. Touches
 * nothing of the page, segment or heap after publishing the block. */
bool _sa_free_remote(sa_segment_t *seg, sa_page_t *page, sa_block_t *block);
/* Puts a page in use at the head of its class queue (adoption, new page). */
void _sa_page_queue_push(sa_heap_t *heap, sa_page_t *page);
void _sa_page_queue_remove(sa_heap_t *heap, sa_page_t *page);
/* Resizes in place the block at the start of `page` (of `seg`, owned by
 * `heap`, the calling thread's) where it is the page's only block in use:
 * the page takes the class of `size` (<= SA_LARGE_MAX) if that class is
 * of the page's kind; false (nothing changed) if it can't. */
bool _sa_page_resize(sa_heap_t *heap, sa_segment_t *seg, sa_page_t *page,
                     size_t size);

/* ---- heap.c: thread heaps, init, fork ---- */
/* One-time init (fork handlers, thread-exit key); idempotent. */
void _sa_global_init(void);
extern sa_heap_t _sa_heap_empty; /* before a thread's first malloc */
/* The calling thread's heap, created on first use; NULL when out of memory. */
sa_heap_t *_sa_heap_init_thread(void);
extern pthread_mutex_t _sa_heaps_lock;

/* ---- huge.c: blocks above SA_LARGE_MAX, one segment each ---- */
/* `zero`: the caller needs zeroed memory (fresh mappings already are). */
void *_sa_huge_alloc(size_t size, size_t align, bool zero);
void _sa_huge_free(sa_segment_t *seg);
/* Unmaps every cached free range (when the OS refuses a mapping). */
void _sa_huge_cache_release(void);
/* Resizes in place or by moving the pages (no copy); returns the block's
 * new address, or NULL (block untouched) when it can't. */
void *_sa_huge_realloc(sa_segment_t *seg, size_t size);
extern pthread_mutex_t _sa_huge_lock;

/* ---- alloc.c: the core the public API (and the debug layer) build on ---- */
void *_sa_malloc_slow(sa_heap_t *heap, unsigned size_class);
extern __thread sa_heap_t *_sa_tls_heap
    __attribute__((tls_model("initial-exec")));

/* Free-list links are stored xor'ed with the page's key (which has its top
 * bit set), and malloc clears the link of the block it hands out. A block
 * freed twice is on a free list twice: the second time malloc reaches it,
 * its first word is 0 (or the program's data), which decodes to nothing
 * in its segment; so do links overwritten after free. Malloc checks each
 * link it follows (two xors and a shift, no memory access); the end of a
 * list (NULL) fails that check too, and the slow path takes the last
 * block. */
static inline sa_block_t *sa_block_next(const sa_page_t *page,
                                        const sa_block_t *block) {
  return (sa_block_t *)(block->link ^ page->key);
}

static inline void sa_block_set_next(const sa_page_t *page, sa_block_t *block,
                                     const sa_block_t *next) {
  block->link = (uintptr_t)next ^ page->key;
}

/* Whether `next`, read from free `block`, is in its segment (not NULL). */
static inline bool sa_link_ok(const sa_block_t *block, const sa_block_t *next) {
  return (((uintptr_t)next ^ (uintptr_t)block) >> SA_SEGMENT_SHIFT) == 0;
}

/* The malloc fast path: pop the first free block of the class's current
 * page, unless it is the last; no lock, no syscall. A bad link goes to the
 * slow path, which reports it. */
static inline void *_sa_alloc_small(size_t size) {
  sa_heap_t *heap = _sa_tls_heap;
  unsigned cls = sa_size_class(size);
  sa_page_t *page = heap->pages[cls];
  if (SA_LIKELY(page != NULL)) {
    sa_block_t *block = page->free;
    if (SA_LIKELY(block != NULL)) {
      sa_block_t *next = sa_block_next(page, block);
      if (SA_LIKELY(sa_link_ok(block, next))) {
        page->free = next;
        /* The next malloc's block: in the debug build it comes cold out
         * of the quarantine (4% of small-block churn there). */
        __builtin_prefetch(next, 1);
        block->link = 0;
        page->used++;
        return block;
      }
    }
  }
  return _sa_malloc_slow(heap, cls);
}

/* At least `size` bytes aligned to `align` (a power of two at most
 * SA_MAX_ALIGN), zeroed if `zero`; or NULL with errno = ENOMEM. */
void *_sa_alloc(size_t size, size_t align, bool zero);
/* Every free but the common one (see _sa_free). */
void _sa_free_slow(void *p);

/* Frees what _sa_alloc returned; reports an invalid pointer. The fast path
 * inline: a block start in a small or medium page of this thread's
 * (found in heap->own_chunks, or by the segment map and the segment's
 * owner, then remembered there; huge segments have no heap), neither the
 * page's last block in use, nor the first back into a full page, nor the
 * block freed last; no lock, no syscall. */
static inline void _sa_free(void *p) {
  sa_heap_t *heap = _sa_tls_heap;
  uintptr_t chunk = (uintptr_t)p >> SA_SEGMENT_SHIFT;
  sa_segment_t *seg = (sa_segment_t *)(chunk << SA_SEGMENT_SHIFT);
  uintptr_t *own = &heap->own_chunks[chunk % SA_OWN_CACHE];
  if (SA_UNLIKELY(*own != ~chunk)) { /* not a segment known to be ours */
    if (sa_map_entry(p) != 1 || /* p's segment doesn't start at its chunk */
        atomic_load_explicit(&seg->heap, memory_order_relaxed) != heap) {
      _sa_free_slow(p);
      return;
    }
    *own = ~chunk;
  }
  sa_page_t *page = sa_page_of(seg, p);
  sa_block_t *block = p;
  if (SA_LIKELY(page->slow_free == 0 && ((uintptr_t)p & 15) == 0 &&
                (uint8_t *)p >= page->area && block != page->free &&
                page->used > 1)) {
    sa_block_set_next(page, block, page->free);
    page->free = block;
    page->used--;
    return;
  }
  _sa_free_slow(p);
}

/* Usable bytes from p to the end of its block; 0 when p is not ours. */
size_t _sa_usable_size(const void *p);
/* The start of the block holding p (free or not), its size in *size;
 * NULL when p is in no block of ours. */
void *_sa_block_start(const void *p, size_t *size);
/* Resizes p's block to `size` bytes, moving it when it must; NULL (p
 * untouched) with errno = ENOMEM on failure. */
void *_sa_realloc(void *p, size_t size);

/* ---- error.c (production) or debug/ (debug build) ---- */
/* The kind's name in reports (and in segalloc_error_kind_name). */
static inline const char *sa_error_name(sa_error_kind_t kind) {
  static const char *const names[] = {
      "double-free",
      "invalid-free",
      "heap-buffer-overflow",
      "heap-buffer-underflow",
      "use-after-free",
      "heap-corruption",
      "leak",
      "alloc-dealloc-mismatch",
      "new-delete-size-mismatch",
  };
  return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind]
                                                           : "unknown-error";
}
/* Reports a heap error found by the core; production aborts. */
void _sa_error(sa_error_kind_t kind, const void *addr, const char *detail);

#endif /* SEGALLOC_INTERNAL_H */
