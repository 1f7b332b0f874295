/* The core's entry points: the malloc and free fast paths, aligned
 * allocation, realloc, and pointer-to-block lookups. Everything above it
 * (api.c, and the debug layer) allocates through these. */
#include "internal.h"

#include <errno.h>
#include <string.h>

/* A block padded so that an aligned address with `size` bytes after it
 * lies inside; the page is marked so that free finds the block start. */
static void *alloc_aligned(size_t size, size_t align) {
  void *block = _sa_alloc_small(size + align - SA_MIN_ALIGN);
  if (block == NULL)
    return NULL;
  uintptr_t aligned = sa_align_up((uintptr_t)block, align);
  if (aligned != (uintptr_t)block) {
    sa_segment_t *seg = sa_segment_of(block);
    atomic_store_explicit(&sa_page_of(seg, block)->has_aligned, 1,
                          memory_order_relaxed);
  }
  return (void *)aligned;
}

void *_sa_alloc(size_t size, size_t align, bool zero) {
  void *p;
  if (SA_LIKELY(align <= SA_MIN_ALIGN && size <= SA_LARGE_MAX))
    p = _sa_alloc_small(size);
  else if (size == 0) /* an aligned pointer must still lie in its block */
    return _sa_alloc(1, align, zero);
  else if (size <= SA_LARGE_MAX - align && align <= SA_LARGE_MAX / 8)
    p = alloc_aligned(size, align);
  else
    return _sa_huge_alloc(size, align, zero);
  if (zero && p != NULL)
    memset(p, 0, size);
  return p;
}

/* The block of a page that holds p, or NULL when p is outside the blocks
 * carved so far. p lies in the page's segment, so its offset is below
 * SA_SEGMENT_SIZE, where sa_div_by is exact. */
static sa_block_t *page_block_of(const sa_page_t *page, const void *p) {
  if (!page->in_use || (const uint8_t *)p < page->area)
    return NULL;
  size_t index =
      sa_div_by((size_t)((const uint8_t *)p - page->area), page->block_magic);
  if (index >= page->capacity)
    return NULL;
  return (sa_block_t *)(page->area + index * page->block_size);
}

void *_sa_block_start(const void *p, size_t *size) {
  sa_segment_t *seg = sa_segment_of(p);
  if (seg == NULL)
    return NULL;
  if (seg->kind == SA_SEGMENT_HUGE) {
    if ((const uint8_t *)p < seg->huge_block ||
        (const uint8_t *)p >= seg->huge_block + seg->huge_size)
      return NULL;
    *size = seg->huge_size;
    return seg->huge_block;
  }
  sa_page_t *page = sa_page_of(seg, p);
  sa_block_t *block = page_block_of(page, p);
  if (block != NULL)
    *size = page->block_size;
  return block;
}

static void free_huge(sa_segment_t *seg, void *p) {
  if (SA_UNLIKELY(p != seg->huge_block)) {
    _sa_error(SA_ERR_INVALID_FREE, p, "not the start of a huge block");
    return;
  }
  _sa_huge_free(seg);
}

/* Not ours, huge, interior pointers, double frees, the page's last block
 * in use or the first back into a full page, and frees from other threads. */
void _sa_free_slow(void *p) {
  sa_segment_t *seg = sa_segment_of(p);
  if (SA_UNLIKELY(seg == NULL)) {
    _sa_error(SA_ERR_INVALID_FREE, p, "not allocated by segalloc");
    return;
  }
  if (seg->kind == SA_SEGMENT_HUGE) {
    free_huge(seg, p);
    return;
  }
  sa_page_t *page = sa_page_of(seg, p);
  sa_block_t *block = p;
  /* Cheap checks that stay on in production: the pointer is aligned and
   * inside the blocks of a page in use (interior pointers are caught only
   * in pages that hold aligned blocks, and always by the debug build). */
  if (page->has_aligned || ((uintptr_t)p & 15) != 0 ||
      (uint8_t *)p < page->area) {
    block = page_block_of(page, p);
    if (block == NULL || ((uintptr_t)p & 15) != 0) {
      _sa_error(SA_ERR_INVALID_FREE, p, "not a block handed out");
      return;
    }
  }
  sa_heap_t *heap = _sa_tls_heap;
  if (atomic_load_explicit(&seg->heap, memory_order_relaxed) == heap) {
    /* Only the last block freed is checked here (reading the block would
     * cost a cache miss on every free); a block freed twice further apart
     * is caught when malloc reaches it a second time (_sa_alloc_small). */
    if (block == page->free || page->used == 0) {
      _sa_error(SA_ERR_DOUBLE_FREE, p, "block is already free");
      return;
    }
    sa_block_set_next(page, block, page->free);
    page->free = block;
    if (--page->used == 0 || page->in_full)
      _sa_page_after_local_free(heap, page);
  } else if (!_sa_free_remote(seg, page, block)) {
    _sa_free(p); /* the segment is ours now */
  }
}

size_t _sa_usable_size(const void *p) {
  size_t size = 0;
  const uint8_t *block = _sa_block_start(p, &size);
  return block == NULL ? 0 : size - (size_t)((const uint8_t *)p - block);
}

/* The usable size of the block p starts, checked as cheaply as free
 * checks it (no division unless the page holds aligned blocks); 0 when p
 * is not a block handed out. */
static size_t block_usable(sa_segment_t *seg, const void *p) {
  if (seg->kind != SA_SEGMENT_HUGE) {
    const sa_page_t *page = sa_page_of(seg, p);
    uintptr_t offset = (uintptr_t)p - (uintptr_t)page->area;
    if (SA_LIKELY(!page->has_aligned && ((uintptr_t)p & 15) == 0 &&
                  page->in_use && (uint8_t *)p >= page->area &&
                  offset < (uintptr_t)page->capacity * page->block_size))
      return page->block_size;
  }
  return _sa_usable_size(p);
}

/* Resizes in place a block alone in its page, at its start, by changing
 * the page's class (_sa_page_resize): a block grown step by step is then
 * copied only when it changes page kind. */
static bool resize_in_place(sa_segment_t *seg, void *p, size_t size) {
  sa_heap_t *heap = _sa_tls_heap;
  if (seg->kind == SA_SEGMENT_HUGE ||
      atomic_load_explicit(&seg->heap, memory_order_relaxed) != heap)
    return false;
  sa_page_t *page = sa_page_of(seg, p);
  return page->used == 1 && (uint8_t *)p == page->area &&
         _sa_page_resize(heap, seg, page, size);
}

void *_sa_realloc(void *p, size_t size) {
  sa_segment_t *seg = sa_segment_of(p);
  size_t usable = seg == NULL ? 0 : block_usable(seg, p);
  if (usable == 0) {
    _sa_error(SA_ERR_INVALID_FREE, p, "realloc of a pointer not handed out");
    return NULL;
  }
  /* Stay in place unless that would waste more than half the block. */
  if (size <= usable && size >= usable / 2)
    return p;
  if (size <= SA_LARGE_MAX && usable >= SA_RESIZE_MIN &&
      resize_in_place(seg, p, size))
    return p;
  /* A block that grows is likely to grow again: give it room, so that
   * growth in small steps copies it a bounded number of times (and, once
   * huge, reuses a cached range its growth fits in). Below the huge
   * threshold it stays below. */
  if (size > usable && usable <= SA_LARGE_MAX) {
    size_t room = usable + usable / 2;
    if (size <= SA_LARGE_MAX && room > SA_LARGE_MAX)
      room = SA_LARGE_MAX;
    size = size < room ? room : size;
  }
  if (seg->kind == SA_SEGMENT_HUGE && size > SA_LARGE_MAX &&
      p == seg->huge_block) {
    void *moved = _sa_huge_realloc(seg, size);
    if (moved != NULL)
      return moved;
  }
  void *fresh = _sa_alloc(size, SA_MIN_ALIGN, false);
  if (fresh == NULL)
    return NULL;
  memcpy(fresh, p,
         (size < usable ? size : usable) - (SEGALLOC_INJECT_BUG == 3));
  _sa_free(p);
  return fresh;
}
