/* Huge blocks (above SA_LARGE_MAX, or too aligned for a page): each in a
 * segment of its own, mapped for it and unmapped on free, except for a few
 * kept in a small cache so that churn around the threshold doesn't pay a
 * syscall and page faults every time. */
#include "internal.h"

#include <errno.h>
#include <string.h>

pthread_mutex_t _sa_huge_lock = PTHREAD_MUTEX_INITIALIZER;
static sa_segment_t *sa_huge_cache[SA_HUGE_CACHE]; /* guarded by the lock */
static size_t sa_huge_cache_count, sa_huge_cache_bytes;

static size_t round_up(size_t n, size_t to) {
  return (n + to - 1) & ~(to - 1);
}

static size_t header_size(size_t align) {
  return round_up(sizeof(sa_segment_t), align < 64 ? 64 : align);
}

static size_t mapping_align(size_t align) {
  return align > SA_SEGMENT_SIZE ? align : SA_SEGMENT_SIZE;
}

/* A cached mapping of at least `size` bytes (and not much more), aligned
 * to `align`; NULL if there is none. */
static sa_segment_t *cache_take(size_t size, size_t align) {
  sa_segment_t *found = NULL;
  pthread_mutex_lock(&_sa_huge_lock);
  for (size_t i = 0; i < sa_huge_cache_count; i++) {
    sa_segment_t *seg = sa_huge_cache[i];
    if (seg->mapped_size >= size && seg->mapped_size - size <= size / 4 &&
        ((uintptr_t)seg & (align - 1)) == 0) {
      found = seg;
      sa_huge_cache[i] = sa_huge_cache[--sa_huge_cache_count];
      sa_huge_cache_bytes -= seg->mapped_size;
      break;
    }
  }
  pthread_mutex_unlock(&_sa_huge_lock);
  return found;
}

static bool cache_put(sa_segment_t *seg) {
  bool kept = false;
  pthread_mutex_lock(&_sa_huge_lock);
  if (sa_huge_cache_count < SA_HUGE_CACHE &&
      sa_huge_cache_bytes + seg->mapped_size <= SA_HUGE_CACHE_BYTES) {
    sa_huge_cache[sa_huge_cache_count++] = seg;
    sa_huge_cache_bytes += seg->mapped_size;
    kept = true;
  }
  pthread_mutex_unlock(&_sa_huge_lock);
  return kept;
}

static void huge_init(sa_segment_t *seg, size_t mapped, size_t offset) {
  memset(seg, 0, sizeof(*seg));
  seg->cookie = sa_segment_cookie(seg);
  seg->kind = SA_SEGMENT_HUGE;
  seg->mapped_size = mapped;
  seg->huge_block = (uint8_t *)seg + offset;
  seg->huge_size = mapped - offset;
}

void *_sa_huge_alloc(size_t size, size_t align, bool zero) {
  size_t offset = header_size(align);
  size_t page = _sa_os_page_size();
  if (size > SIZE_MAX / 2 - offset - page) {
    errno = ENOMEM;
    return NULL;
  }
  size_t mapped = round_up(offset + size, page);
  size_t map_align = mapping_align(align);
  sa_segment_t *seg = cache_take(mapped, map_align);
  bool fresh = seg == NULL;
  if (fresh) {
    seg = _sa_os_map_aligned(mapped, map_align);
    if (seg == NULL) {
      errno = ENOMEM;
      return NULL;
    }
  } else {
    mapped = seg->mapped_size;
  }
  huge_init(seg, mapped, offset);
  _sa_segment_register(seg);
  if (zero && !fresh)
    memset(seg->huge_block, 0, size);
  return seg->huge_block;
}

void _sa_huge_free(sa_segment_t *seg) {
  _sa_segment_unregister(seg);
  seg->cookie = 0;
  if (!cache_put(seg))
    _sa_os_unmap(seg, seg->mapped_size);
}

void *_sa_huge_realloc(sa_segment_t *seg, size_t size) {
  size_t offset = (size_t)(seg->huge_block - (uint8_t *)seg);
  size_t page = _sa_os_page_size();
  if (size > SIZE_MAX / 2 - offset - page)
    return NULL;
  size_t needed = round_up(offset + size, page);
  if (needed <= seg->mapped_size && needed >= seg->mapped_size / 2)
    return seg->huge_block;
  /* Grow or shrink by moving the pages, never by copying them. */
  size_t old_size = seg->mapped_size;
  _sa_segment_unregister(seg);
  sa_segment_t *moved =
      needed < old_size
          ? NULL
          : _sa_os_remap_aligned(seg, old_size, needed, mapping_align(offset));
  if (moved == NULL && needed < old_size) {
    _sa_os_unmap((uint8_t *)seg + needed, old_size - needed);
    moved = seg;
  }
  if (moved == NULL) {
    _sa_segment_register(seg);
    return NULL;
  }
  huge_init(moved, needed, offset);
  _sa_segment_register(moved);
  return moved->huge_block;
}
