/* The heap walk: segalloc_check_heap() verifies the invariants written in
 * types.h, segment by segment and page by page (and, in the debug build,
 * has the debug layer check every block); the same walk serves the
 * statistics. */
#include "hooks.h"
#include "segalloc.h"

#include <stdlib.h>
#include <string.h>

#define SA_MAX_BLOCKS (((size_t)1 << SA_SMALL_PAGE_SHIFT) / 16)

/* What one page holds, as found by scan_page. */
typedef struct page_scan_s {
  uint64_t is_free[SA_MAX_BLOCKS / 64]; /* block index -> on a free list */
  uint32_t free_count, remote_count;    /* free; thread_free */
  int problems;
} page_scan_t;

#define PROBLEM(scan, ...)                                                     \
  do {                                                                         \
    _sa_message("check: " __VA_ARGS__);                                        \
    (scan)->problems++;                                                        \
  } while (0)

/* Walks one free list (free or remote), marking each block; stops
 * at the first block that isn't a distinct block of the page. */
static uint32_t scan_list(const sa_page_t *page, sa_block_t *list,
                          page_scan_t *scan, const char *which) {
  uint32_t count = 0;
  for (sa_block_t *b = list; b != NULL; b = sa_block_next(page, b)) {
    uintptr_t offset = (uintptr_t)b - (uintptr_t)page->area;
    if ((uintptr_t)b < (uintptr_t)page->area ||
        offset >= (uintptr_t)page->capacity * page->block_size ||
        offset % page->block_size != 0) {
      PROBLEM(scan, "page %p: %s list entry %p is not a block of the page",
              (void *)page, which, (void *)b);
      break;
    }
    size_t index = offset / page->block_size;
    if (scan->is_free[index / 64] & (1ull << (index % 64))) {
      PROBLEM(scan, "page %p: block %p twice on the free lists (cycle?)",
              (void *)page, (void *)b);
      break;
    }
    scan->is_free[index / 64] |= 1ull << (index % 64);
    count++;
  }
  return count;
}

static void scan_page(const sa_segment_t *seg, const sa_page_t *page,
                      page_scan_t *scan) {
  memset(scan, 0, sizeof(*scan));
  uint8_t *end = _sa_page_end(seg, page);
  if (page->size_class >= SA_CLASS_COUNT ||
      page->block_size != _sa_class_size[page->size_class] ||
      page->block_magic != sa_div_magic(page->block_size) ||
      sa_class_kind(page->size_class) != seg->kind) {
    PROBLEM(scan, "page %p: block size %u does not match class %u",
            (void *)page, page->block_size, page->size_class);
    return;
  }
  if (page->area < (const uint8_t *)seg || page->area >= end ||
      page->reserved !=
          (uint32_t)((size_t)(end - page->area) / page->block_size) ||
      page->capacity > page->reserved || page->used > page->capacity) {
    PROBLEM(scan,
            "page %p: counts out of range (used %u, capacity %u, "
            "reserved %u)",
            (void *)page, page->used, page->capacity, page->reserved);
    return;
  }
  uintptr_t word = atomic_load(&((sa_page_t *)page)->thread_free);
  scan->free_count = scan_list(page, page->free, scan, "free");
  scan->remote_count = scan_list(page, sa_tf_list(word), scan, "remote");
  if (scan->problems == 0 && page->used + scan->free_count != page->capacity)
    PROBLEM(scan, "page %p: used %u + free %u != capacity %u", (void *)page,
            page->used, scan->free_count, page->capacity);
  if ((word & SA_TF_MASK) > SA_TF_NOTIFYING ||
      ((word & SA_TF_MASK) == SA_TF_FULL && !page->in_full))
    PROBLEM(scan, "page %p: state %u, in full list %u", (void *)page,
            (unsigned)(word & SA_TF_MASK), page->in_full);
  if (scan->problems == 0 && scan->remote_count != sa_tf_count(word))
    PROBLEM(scan, "page %p: %u remote frees, the count says %u", (void *)page,
            scan->remote_count, sa_tf_count(word));
  if (scan->problems == 0 && scan->remote_count > page->used)
    PROBLEM(scan, "page %p: %u remote frees but only %u used", (void *)page,
            scan->remote_count, page->used);
}

/* What a walk found. */
typedef struct walk_s {
  sa_heap_t *heap;
  int problems;
  segalloc_stats_t stats;
  size_t class_pages[SA_CLASS_COUNT], class_blocks[SA_CLASS_COUNT];
} walk_t;

/* A segment whose owner thread changes the pages under us: no checks, and
 * only a rough count for the statistics. These reads race with the owner
 * on purpose; ThreadSanitizer is told so. */
__attribute__((noinline, no_sanitize("thread"))) static void
count_roughly(walk_t *walk, const sa_segment_t *seg) {
  for (uint32_t i = 0; i < seg->page_count; i++) {
    const volatile sa_page_t *page = &seg->pages[i];
    if (page->in_use) {
      walk->stats.in_use_blocks += page->used;
      walk->stats.in_use_bytes += (size_t)page->used * page->block_size;
    }
  }
}

static void walk_segment(walk_t *walk, sa_segment_t *seg) {
  page_scan_t scan;
  if (seg->cookie != sa_segment_cookie(seg) || sa_segment_of(seg) != seg) {
    _sa_message("check: segment %p: bad cookie or segment map entry",
                (void *)seg);
    walk->problems++;
    return;
  }
  walk->stats.segments++;
  if (seg->kind == SA_SEGMENT_HUGE) {
    walk->stats.in_use_blocks++;
    walk->stats.in_use_bytes += seg->huge_size;
    return;
  }
  sa_heap_t *owner = atomic_load(&seg->heap);
  if (owner != walk->heap && owner != NULL) {
    count_roughly(walk, seg);
    return;
  }
  uint32_t in_use = 0, dirty = 0;
  for (uint32_t i = 0; i < seg->page_count; i++) {
    sa_page_t *page = &seg->pages[i];
    if (!page->in_use) {
      dirty += page->dirty;
      continue;
    }
    in_use++;
    scan_page(seg, page, &scan);
    walk->problems += scan.problems;
    size_t blocks =
        page->used >= scan.remote_count ? page->used - scan.remote_count : 0;
    walk->stats.in_use_blocks += blocks;
    walk->stats.in_use_bytes += blocks * page->block_size;
    if (scan.problems == 0 && page->size_class < SA_CLASS_COUNT) {
      walk->class_pages[page->size_class]++;
      walk->class_blocks[page->size_class] += blocks;
    }
  }
  if (dirty != seg->dirty_pages ||
      (((size_t)dirty << seg->page_shift) >= SA_PURGE_BYTES &&
       seg->pages_in_use <= seg->page_count / 4 && seg->purge_due_ms == 0)) {
    _sa_message("check: segment %p: %u dirty pages, header says %u",
                (void *)seg, dirty, seg->dirty_pages);
    walk->problems++;
  }
  if (in_use != seg->pages_in_use) {
    _sa_message("check: segment %p: %u pages in use, header says %u",
                (void *)seg, in_use, seg->pages_in_use);
    walk->problems++;
  }
}

/* The calling thread's page queues: pages of the right class, linked both
 * ways (the head's prev is the tail), full ones only in the full list;
 * bounded, so a cycle can't hang. */
static int check_queues(sa_heap_t *heap) {
  int problems = 0;
  for (unsigned cls = 0; cls <= SA_CLASS_COUNT; cls++) {
    sa_page_t *head = cls < SA_CLASS_COUNT ? heap->pages[cls] : heap->full;
    size_t length = 0;
    for (sa_page_t *p = head; p != NULL; p = p->next) {
      if (!p->in_use || (cls < SA_CLASS_COUNT && p->size_class != cls) ||
          p->in_full != (cls == SA_CLASS_COUNT) ||
          (p->next != NULL ? p->next->prev != p : head->prev != p) ||
          ++length > ((size_t)1 << 26)) {
        _sa_message("check: page %p: wrong in queue %u", (void *)p, cls);
        problems++;
        break;
      }
    }
  }
  return problems;
}

/* The calling thread's cache of its segments: each entry empty, or a
 * segment of this heap's at its place. */
static int check_own_chunks(sa_heap_t *heap) {
  int problems = 0;
  for (uintptr_t i = 0; i < SA_OWN_CACHE; i++) {
    uintptr_t chunk = ~heap->own_chunks[i];
    sa_segment_t *seg = (sa_segment_t *)(chunk << SA_SEGMENT_SHIFT);
    if (heap->own_chunks[i] != 0 &&
        (chunk % SA_OWN_CACHE != i || sa_segment_of(seg) != seg ||
         atomic_load(&seg->heap) != heap)) {
      _sa_message("check: heap %p: own_chunks[%u] names %p, not a segment "
                  "of the heap's",
                  (void *)heap, (unsigned)i, (void *)seg);
      problems++;
    }
  }
  return problems;
}

static void walk_heap(walk_t *walk) {
  walk->heap = _sa_tls_heap;
  pthread_mutex_lock(&_sa_segments_lock);
  for (sa_segment_t *seg = _sa_all_segments; seg != NULL; seg = seg->all_next)
    walk_segment(walk, seg);
  pthread_mutex_unlock(&_sa_segments_lock);
  walk->problems += check_queues(walk->heap) + check_own_chunks(walk->heap);
  walk->stats.mapped_bytes = _sa_os_mapped_bytes();
#if SEGALLOC_DEBUG
  size_t guarded = 0;
  _sa_dbg_add_stats(&walk->stats.in_use_blocks, &guarded);
  walk->stats.in_use_bytes += guarded;
  walk->stats.mapped_bytes += guarded;
#endif
}

int segalloc_check_heap(void) {
  walk_t walk = {0};
  walk_heap(&walk);
#if SEGALLOC_DEBUG
  walk.problems += _sa_dbg_check_heap();
#endif
  return walk.problems;
}

void segalloc_get_stats(segalloc_stats_t *out) {
  walk_t walk = {0};
  walk_heap(&walk);
  *out = walk.stats;
}

void segalloc_print_stats(FILE *out) {
  walk_t walk = {0};
  walk_heap(&walk);
  fprintf(out,
          "segalloc: mapped %zu bytes, in use %zu bytes in %zu blocks, "
          "%zu segments\n",
          walk.stats.mapped_bytes, walk.stats.in_use_bytes,
          walk.stats.in_use_blocks, walk.stats.segments);
  fprintf(out, "segalloc: %10s %8s %10s\n", "class size", "pages", "blocks");
  for (unsigned cls = 0; cls < SA_CLASS_COUNT; cls++)
    if (walk.class_pages[cls] != 0)
      fprintf(out, "segalloc: %10u %8zu %10zu\n", _sa_class_size[cls],
              walk.class_pages[cls], walk.class_blocks[cls]);
}

__attribute__((destructor)) static void print_stats_at_exit(void) {
  const char *env = getenv("SEGALLOC_STATS");
  if (env != NULL && strcmp(env, "1") == 0)
    segalloc_print_stats(stderr);
}
