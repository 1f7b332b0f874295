/* Segments: mapping them, cutting them into pages, the segment map, the
 * global segment list, the cache of empty segments, and the hand-over of a
 * dead thread's segments (abandon) to a live one (adopt). */
#include "internal.h"

#include <string.h>

_Atomic(sa_map_leaf_t *) _sa_segment_map[SA_MAP_LEAVES];

pthread_mutex_t _sa_segments_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
sa_segment_t *_sa_all_segments;

/* Guarded by _sa_segments_lock. */
static sa_segment_t *sa_abandoned;
static _Atomic size_t sa_abandoned_count; /* read without the lock */
static sa_segment_t *sa_cache[SA_SEGMENT_CACHE];
static size_t sa_cache_count;

void _sa_segment_map_set(sa_segment_t *seg, size_t mapped_size, bool ours) {
  uintptr_t first = (uintptr_t)seg >> SA_SEGMENT_SHIFT;
  size_t chunks = (mapped_size + SA_SEGMENT_SIZE - 1) >> SA_SEGMENT_SHIFT;
  uintptr_t mask = ((uintptr_t)1 << SA_MAP_LEAF_BITS) - 1;
  for (size_t i = 0; i < chunks; i++) {
    uint8_t back = ours ? (uint8_t)(i < 254 ? i + 1 : 255) : 0;
    sa_map_leaf_t *leaf =
        atomic_load_explicit(&_sa_segment_map[(first + i) >> SA_MAP_LEAF_BITS],
                             memory_order_relaxed);
    atomic_store_explicit(&(*leaf)[(first + i) & mask], back,
                          memory_order_release);
  }
}

bool _sa_segment_map_reserve(const void *addr, size_t size) {
  uintptr_t first = (uintptr_t)addr >> SA_SEGMENT_SHIFT;
  uintptr_t last = ((uintptr_t)addr + size - 1) >> SA_SEGMENT_SHIFT;
  bool ok = true;
  pthread_mutex_lock(&_sa_segments_lock);
  for (size_t leaf = first >> SA_MAP_LEAF_BITS;
       ok && leaf <= last >> SA_MAP_LEAF_BITS; leaf++) {
    if (atomic_load_explicit(&_sa_segment_map[leaf], memory_order_relaxed))
      continue;
    sa_map_leaf_t *fresh =
        _sa_os_map_aligned(sizeof(sa_map_leaf_t), _sa_os_page_size());
    ok = fresh != NULL;
    if (ok)
      atomic_store_explicit(&_sa_segment_map[leaf], fresh,
                            memory_order_release);
  }
  pthread_mutex_unlock(&_sa_segments_lock);
  return ok;
}

/* Unmaps the cached empty segments. */
static void segment_cache_release(void) {
  sa_segment_t *cached[SA_SEGMENT_CACHE];
  pthread_mutex_lock(&_sa_segments_lock);
  size_t count = sa_cache_count;
  memcpy(cached, sa_cache, count * sizeof(cached[0]));
  sa_cache_count = 0;
  pthread_mutex_unlock(&_sa_segments_lock);
  for (size_t i = 0; i < count; i++)
    _sa_os_unmap(cached[i], SA_SEGMENT_SIZE);
}

void *_sa_segment_map_memory(size_t size, size_t align) {
  void *p = _sa_os_map_aligned(size, align);
  if (p == NULL) {
    segment_cache_release();
    _sa_huge_cache_release();
    p = _sa_os_map_aligned(size, align);
  }
  if (p != NULL && !_sa_segment_map_reserve(p, size)) {
    _sa_os_unmap(p, size);
    p = NULL;
  }
  return p;
}

void _sa_segment_register(sa_segment_t *seg) {
  pthread_mutex_lock(&_sa_segments_lock);
  SA_LIST_PUSH(_sa_all_segments, seg, all_next, all_prev);
  _sa_segment_map_set(seg, seg->mapped_size, true);
  pthread_mutex_unlock(&_sa_segments_lock);
}

void _sa_segment_unregister(sa_segment_t *seg) {
  pthread_mutex_lock(&_sa_segments_lock);
  _sa_segment_map_set(seg, seg->mapped_size, false);
  SA_LIST_REMOVE(_sa_all_segments, seg, all_next, all_prev);
  pthread_mutex_unlock(&_sa_segments_lock);
}

static size_t segment_header_size(uint32_t page_count) {
  return sa_align_up(sizeof(sa_segment_t) + page_count * sizeof(sa_page_t),
                     256);
}

static sa_segment_t *segment_new(sa_heap_t *heap, sa_segment_kind_t kind) {
  sa_segment_t *seg = NULL;
  pthread_mutex_lock(&_sa_segments_lock);
  if (sa_cache_count > 0)
    seg = sa_cache[--sa_cache_count];
  pthread_mutex_unlock(&_sa_segments_lock);
  if (seg == NULL) {
    seg = _sa_segment_map_memory(SA_SEGMENT_SIZE, SA_SEGMENT_SIZE);
#if SEGALLOC_DEBUG
    /* A debug block is a header and footer larger, and each thread keeps
     * megabytes of freed blocks in quarantine: on 4 KiB pages the debug
     * build spends much of its time in TLB misses on small blocks (+17-31%
     * CPU on churn of 8-263 B blocks without them). Not for medium pages:
     * there a huge page backs the untouched middles of big blocks too, and
     * a fresh one costs milliseconds in a VM that gave free memory back to
     * its host (churn of blocks up to 16 KiB: RSS 98 MB against 71, system
     * time 0.23 s against 0.13); they would save realloc growth to 60 KB
     * up to 5% CPU (perf stat, 2026-12-01). A cached segment keeps its
     * hint when taken for the other kind. */
    if (seg != NULL && kind == SA_SEGMENT_SMALL)
      _sa_os_prefer_huge_pages(seg, SA_SEGMENT_SIZE);
#endif
  }
  if (seg == NULL)
    return NULL;
  static const uint32_t page_shift[SA_PAGE_KINDS] = {SA_SMALL_PAGE_SHIFT,
                                                     SA_MEDIUM_PAGE_SHIFT};
  uint32_t shift = page_shift[kind];
  uint32_t count = (uint32_t)(SA_SEGMENT_SIZE >> shift);
  size_t header = segment_header_size(count);
  memset(seg, 0, header);
  seg->cookie = sa_segment_cookie(seg);
  seg->kind = kind;
  seg->page_shift = shift;
  seg->page_count = count;
  seg->mapped_size = SA_SEGMENT_SIZE;
  atomic_init(&seg->heap, heap);
  for (uint32_t i = 0; i < count; i++) {
    uint8_t *start = (uint8_t *)seg + ((size_t)i << shift);
    seg->pages[i].area = i == 0 ? (uint8_t *)seg + header : start;
  }
  _sa_segment_register(seg);
  SA_LIST_PUSH(heap->owned[kind], seg, owned_next, owned_prev);
  SA_LIST_PUSH(heap->avail[kind], seg, avail_next, avail_prev);
  return seg;
}

/* The segment is empty: unlink it and cache it or give it back. */
static void segment_release(sa_heap_t *heap, sa_segment_t *seg) {
  uintptr_t chunk = (uintptr_t)seg >> SA_SEGMENT_SHIFT;
  if (heap->own_chunks[chunk % SA_OWN_CACHE] == ~chunk)
    heap->own_chunks[chunk % SA_OWN_CACHE] = 0; /* another heap may take it */
  SA_LIST_REMOVE(heap->owned[seg->kind], seg, owned_next, owned_prev);
  SA_LIST_REMOVE(heap->avail[seg->kind], seg, avail_next, avail_prev);
  _sa_segment_unregister(seg);
  seg->cookie = 0;
  /* Cached segments keep their pages: the cache is small (its bytes are
   * bounded), and reuse without page faults is what it is for. */
  pthread_mutex_lock(&_sa_segments_lock);
  bool cached = sa_cache_count < SA_SEGMENT_CACHE;
  if (cached)
    sa_cache[sa_cache_count++] = seg;
  pthread_mutex_unlock(&_sa_segments_lock);
  if (!cached)
    _sa_os_unmap(seg, SA_SEGMENT_SIZE);
}

sa_page_t *_sa_page_alloc(sa_heap_t *heap, sa_segment_kind_t kind) {
  sa_segment_t *seg = heap->avail[kind];
  if (seg == NULL && (seg = segment_new(heap, kind)) == NULL)
    return NULL;
  /* A dirty page first: its memory is still resident. */
  sa_page_t *page = NULL;
  for (uint32_t i = 0; i < seg->page_count; i++) {
    sa_page_t *candidate = &seg->pages[i];
    if (!candidate->in_use && (page == NULL || candidate->dirty)) {
      page = candidate;
      if (page->dirty || seg->dirty_pages == 0)
        break;
    }
  }
  if (page->dirty) {
    page->dirty = 0;
    seg->dirty_pages--;
    if (seg->purge_due_ms != 0) /* in use again: wait longer */
      seg->purge_due_ms = _sa_os_now_ms() + SA_PURGE_DELAY_MS;
  }
  page->in_use = 1;
  if (++seg->pages_in_use == seg->page_count)
    SA_LIST_REMOVE(heap->avail[kind], seg, avail_next, avail_prev);
  return page;
}

uint8_t *_sa_page_end(const sa_segment_t *seg, const sa_page_t *page) {
  size_t index = (size_t)(page - seg->pages) + 1;
  return (uint8_t *)seg + (index << seg->page_shift);
}

/* Gives the memory of the segment's released pages back to the OS, one
 * call per run of adjacent pages. */
static void segment_purge(sa_segment_t *seg) {
  size_t os_page = _sa_os_page_size();
  uint8_t *start = NULL, *end = NULL;
  for (uint32_t i = 0; i <= seg->page_count; i++) {
    sa_page_t *page = i < seg->page_count ? &seg->pages[i] : NULL;
    if (page != NULL && page->dirty) {
      page->dirty = 0;
      if (start == NULL)
        start = (uint8_t *)sa_align_up((uintptr_t)page->area, os_page);
      end = _sa_page_end(seg, page);
    } else if (start != NULL) {
      _sa_os_purge(start, (size_t)(end - start));
      start = NULL;
    }
  }
  seg->dirty_pages = 0;
  seg->purge_due_ms = 0;
}

/* A release left `seg` (not empty) with more dirty pages: purge them if
 * they are many in a mostly empty segment and have been for a while, or
 * if the segment is down to one page (see SA_PURGE_DELAY_MS). */
static void segment_maybe_purge(sa_segment_t *seg) {
  if (((size_t)seg->dirty_pages << seg->page_shift) < SA_PURGE_BYTES ||
      seg->pages_in_use > seg->page_count / 4) {
    seg->purge_due_ms = 0;
    return;
  }
  uint64_t now = _sa_os_now_ms();
  if (seg->pages_in_use == 1 ||
      (seg->purge_due_ms != 0 && now >= seg->purge_due_ms))
    segment_purge(seg);
  else if (seg->purge_due_ms == 0)
    seg->purge_due_ms = now + SA_PURGE_DELAY_MS;
}

void _sa_page_release(sa_heap_t *heap, sa_page_t *page) {
  sa_segment_t *seg = sa_segment_of(page);
  sa_assert_internal(page->in_use && page->used == 0 &&
                     atomic_load(&page->thread_free) == SA_TF_NORMAL);
  uint8_t *area = page->area;
  bool was_full = seg->pages_in_use == seg->page_count;
  memset(page, 0, sizeof(*page));
  page->area = area;
  page->dirty = 1;
  seg->dirty_pages++;
  if (was_full)
    SA_LIST_PUSH(heap->avail[seg->kind], seg, avail_next, avail_prev);
  /* Released pages are reused as they are (see _sa_page_alloc), so churn
   * costs neither syscalls nor page faults. Memory comes back with the
   * whole segment (segment_release), or in a batch once the segment has
   * stayed mostly empty a while. */
  if (--seg->pages_in_use == 0)
    segment_release(heap, seg);
  else
    segment_maybe_purge(seg);
}

/* Collects remote frees and frees the pages that turn out empty; true
 * when the segment itself was released. */
static bool segment_collect(sa_heap_t *heap, sa_segment_t *seg) {
  for (uint32_t i = 0; i < seg->page_count; i++) {
    sa_page_t *page = &seg->pages[i];
    if (!page->in_use)
      continue;
    _sa_page_collect_remote(page);
    if (page->used == 0) {
      bool last = seg->pages_in_use == 1;
      _sa_page_release(heap, page);
      if (last)
        return true;
    }
  }
  return false;
}

void _sa_heap_abandon_segments(sa_heap_t *heap) {
  for (int kind = 0; kind < SA_PAGE_KINDS; kind++) {
    sa_segment_t *seg = heap->owned[kind];
    while (seg != NULL) {
      sa_segment_t *next = seg->owned_next;
      if (!segment_collect(heap, seg)) {
        SA_LIST_REMOVE(heap->owned[kind], seg, owned_next, owned_prev);
        if (seg->pages_in_use < seg->page_count)
          SA_LIST_REMOVE(heap->avail[kind], seg, avail_next, avail_prev);
        for (uint32_t i = 0; i < seg->page_count; i++)
          if (seg->pages[i].in_use)
            _sa_page_abandon(&seg->pages[i]);
        /* Under the lock: a free that sees no owner may adopt the segment
         * at once, and must find it on the abandoned list. */
        pthread_mutex_lock(&_sa_segments_lock);
        atomic_store(&seg->heap, NULL);
        SA_LIST_PUSH(sa_abandoned, seg, owned_next, owned_prev);
        atomic_fetch_add(&sa_abandoned_count, 1);
        pthread_mutex_unlock(&_sa_segments_lock);
      }
      seg = next;
    }
  }
}

/* Takes `seg` (or, if NULL, any segment) off the abandoned list for
 * `heap`; false if it is not (or no longer) abandoned. */
static bool abandoned_take(sa_heap_t *heap, sa_segment_t **seg) {
  if (atomic_load_explicit(&sa_abandoned_count, memory_order_relaxed) == 0)
    return false;
  pthread_mutex_lock(&_sa_segments_lock);
  if (*seg == NULL)
    *seg = sa_abandoned;
  bool taken = *seg != NULL && atomic_load(&(*seg)->heap) == NULL;
  if (taken) {
    SA_LIST_REMOVE(sa_abandoned, *seg, owned_next, owned_prev);
    atomic_fetch_sub(&sa_abandoned_count, 1);
    atomic_store(&(*seg)->heap, heap);
  }
  pthread_mutex_unlock(&_sa_segments_lock);
  return taken;
}

bool _sa_segment_adopt(sa_heap_t *heap, sa_segment_t *seg) {
  if (!abandoned_take(heap, &seg))
    return false;
  SA_LIST_PUSH(heap->owned[seg->kind], seg, owned_next, owned_prev);
  if (seg->pages_in_use < seg->page_count)
    SA_LIST_PUSH(heap->avail[seg->kind], seg, avail_next, avail_prev);
  if (segment_collect(heap, seg))
    return true;
  for (uint32_t i = 0; i < seg->page_count; i++)
    if (seg->pages[i].in_use)
      _sa_page_queue_push(heap, &seg->pages[i]);
  return true;
}
