/* Huge blocks (above SA_LARGE_MAX, or too aligned for a page): each in a
 * segment of its own, page-granular. A freed huge mapping is not unmapped
 * at once but kept, resident, in a cache of free ranges: the next huge
 * malloc takes the smallest range that fits (giving back a tail that would
 * waste too much) or grows one in place, so churn costs neither mmap nor
 * page faults. Ranges left unused for SA_HUGE_DECAY_MS, or beyond the
 * cache's bounds, are unmapped (purging, delayed, in the manner of
 * jemalloc's decay); all of them are when the OS refuses a mapping. */
#include "internal.h"

#include <errno.h>
#include <string.h>

/* A cached free range: a whole former huge mapping, its header intact.
 * Its size is kept here too (== seg->mapped_size), so that choosing a
 * range reads this array only, not one header page per range. */
typedef struct sa_huge_range_s {
  sa_segment_t *seg;
  size_t size;
  uint64_t freed_ms; /* when it was freed (_sa_os_now_ms) */
} sa_huge_range_t;

pthread_mutex_t _sa_huge_lock = PTHREAD_MUTEX_INITIALIZER;
/* Guarded by the lock: the cache, oldest first, and the bytes it holds. */
static sa_huge_range_t sa_huge_cache[SA_HUGE_CACHE];
static size_t sa_huge_cache_count, sa_huge_cache_bytes;
/* The bytes of live huge blocks, which scale the cache's byte bound; an
 * estimate (kept apart from the lock, so a malloc takes it once). */
static _Atomic size_t sa_huge_live_bytes;

static size_t round_up(size_t n, size_t to) {
  return (n + to - 1) & ~(to - 1);
}

static size_t header_size(size_t align) {
  return round_up(sizeof(sa_segment_t), align < 64 ? 64 : align);
}

static size_t mapping_align(size_t align) {
  return align > SA_SEGMENT_SIZE ? align : SA_SEGMENT_SIZE;
}

/* Removes entry i (keeping the age order); the lock is held. */
static sa_segment_t *cache_remove(size_t i) {
  sa_segment_t *seg = sa_huge_cache[i].seg;
  sa_huge_cache_bytes -= sa_huge_cache[i].size;
  sa_huge_cache_count--;
  memmove(&sa_huge_cache[i], &sa_huge_cache[i + 1],
          (sa_huge_cache_count - i) * sizeof(sa_huge_cache[0]));
  return seg;
}

/* The most the cache holds: half the live huge bytes, or
 * SA_HUGE_CACHE_BYTES if more; the lock is held. */
static size_t cache_limit(void) {
  size_t live =
      atomic_load_explicit(&sa_huge_live_bytes, memory_order_relaxed) / 2;
  return live > SA_HUGE_CACHE_BYTES ? live : SA_HUGE_CACHE_BYTES;
}

static void live_add(size_t bytes) {
  atomic_fetch_add_explicit(&sa_huge_live_bytes, bytes, memory_order_relaxed);
}

/* Takes out of the cache, into evicted[], the ranges that have aged or
 * (oldest first) that leave no room for `incoming` more bytes in one more
 * entry; all of them if `all`. Returns how many; the lock is held. */
static size_t cache_evict(sa_segment_t **evicted, size_t incoming, bool all) {
  size_t limit = cache_limit();
  uint64_t now = _sa_os_now_ms();
  size_t n = 0;
  while (sa_huge_cache_count > 0 &&
         (all || sa_huge_cache_count == SA_HUGE_CACHE ||
          sa_huge_cache_bytes + incoming > limit ||
          now - sa_huge_cache[0].freed_ms > SA_HUGE_DECAY_MS))
    evicted[n++] = cache_remove(0);
  return n;
}

static void unmap_all(sa_segment_t **segs, size_t n) {
  for (size_t i = 0; i < n; i++)
    _sa_os_unmap(segs[i], segs[i]->mapped_size);
}

void _sa_huge_cache_release(void) {
  sa_segment_t *evicted[SA_HUGE_CACHE];
  pthread_mutex_lock(&_sa_huge_lock);
  size_t n = cache_evict(evicted, 0, true);
  pthread_mutex_unlock(&_sa_huge_lock);
  unmap_all(evicted, n);
}

/* How badly a range of `have` bytes fits a mapping of `needed` (both
 * below SIZE_MAX / 2): the waste of one that holds it, else more, the less
 * it has. A score, so that choosing is a branch-free minimum. */
static size_t misfit(size_t have, size_t needed) {
  return have >= needed ? have - needed : SIZE_MAX / 2 + (needed - have);
}

/* A cached range for a mapping of `needed` bytes aligned to `align`: the
 * smallest that holds it if at most half would be waste, else the largest
 * smaller one (the caller grows it: its resident pages save as many page
 * faults); NULL if none fits so: then a fresh mapping, once freed, widens
 * the cache's choice of sizes. */
static sa_segment_t *cache_take(size_t needed, size_t align) {
  size_t best = 0, best_misfit = SIZE_MAX;
  pthread_mutex_lock(&_sa_huge_lock);
  for (size_t i = 0; i < sa_huge_cache_count; i++) {
    size_t m = ((uintptr_t)sa_huge_cache[i].seg & (align - 1)) != 0
                   ? SIZE_MAX
                   : misfit(sa_huge_cache[i].size, needed);
    best = m < best_misfit ? i : best;
    best_misfit = m < best_misfit ? m : best_misfit;
  }
  size_t have = best_misfit == SIZE_MAX ? 0 : sa_huge_cache[best].size;
  bool fits = have >= needed ? have - needed <= needed : have > 0;
  sa_segment_t *seg = fits ? cache_remove(best) : NULL;
  pthread_mutex_unlock(&_sa_huge_lock);
  return seg;
}

/* Puts a freed huge segment in the cache, unmapping what no longer fits
 * (the segment itself if it is bigger than the whole cache may hold). */
static void cache_put(sa_segment_t *seg) {
  sa_segment_t *evicted[SA_HUGE_CACHE + 1];
  size_t n;
  live_add(-seg->mapped_size);
  pthread_mutex_lock(&_sa_huge_lock);
  if (seg->mapped_size > cache_limit()) {
    n = cache_evict(evicted, 0, false);
    evicted[n++] = seg;
  } else {
    n = cache_evict(evicted, seg->mapped_size, false);
    sa_huge_cache[sa_huge_cache_count++] =
        (sa_huge_range_t){seg, seg->mapped_size, _sa_os_now_ms()};
    sa_huge_cache_bytes += seg->mapped_size;
  }
  pthread_mutex_unlock(&_sa_huge_lock);
  unmap_all(evicted, n);
}

/* Resizes the mapping of `seg` to `needed` bytes where it is: gives back
 * the tail, or extends into the free address space after it. */
static bool resize_in_place(sa_segment_t *seg, size_t needed) {
  if (needed == seg->mapped_size)
    return true;
  if (needed < seg->mapped_size) {
    _sa_os_unmap((uint8_t *)seg + needed, seg->mapped_size - needed);
  } else if (!_sa_os_extend(seg, seg->mapped_size, needed)) {
    return false;
  } else if (!_sa_segment_map_reserve(seg, needed)) {
    _sa_os_unmap((uint8_t *)seg + seg->mapped_size, needed - seg->mapped_size);
    return false;
  }
  seg->mapped_size = needed;
  return true;
}

/* Moves the pages of `seg` into a new mapping of `needed` bytes aligned to
 * `align` (no copy); NULL (seg untouched) when it can't. */
static sa_segment_t *move(sa_segment_t *seg, size_t needed, size_t align) {
  sa_segment_t *to = _sa_segment_map_memory(needed, align);
  if (to == NULL || _sa_os_move(seg, seg->mapped_size, to, needed)) {
    if (to != NULL)
      to->mapped_size = needed;
    return to;
  }
  _sa_os_unmap(to, needed);
  return NULL;
}

/* A cached range made to hold `needed` bytes (see cache_take): a larger
 * one as it is (its untouched pages cost nothing), a smaller one grown (in
 * place, or by moving its pages): its resident pages are reused, only the
 * new tail faults in. NULL when the cache has none that fits. */
static sa_segment_t *reuse(size_t needed, size_t align) {
  sa_segment_t *seg = cache_take(needed, align);
  size_t have = seg == NULL ? 0 : seg->mapped_size;
  if (seg == NULL || have >= needed || resize_in_place(seg, needed))
    return seg;
  sa_segment_t *moved = move(seg, needed, align);
  if (moved == NULL)
    _sa_os_unmap(seg, have);
  return moved;
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
  sa_segment_t *seg = reuse(mapped, map_align);
  bool fresh = seg == NULL;
  if (fresh) {
    seg = _sa_segment_map_memory(mapped, map_align);
    if (seg == NULL) {
      errno = ENOMEM;
      return NULL;
    }
  } else {
    mapped = seg->mapped_size;
  }
  huge_init(seg, mapped, offset);
  live_add(mapped);
  _sa_segment_register(seg);
  if (zero && !fresh)
    memset(seg->huge_block, 0, size);
  return seg->huge_block;
}

void _sa_huge_free(sa_segment_t *seg) {
  _sa_segment_unregister(seg);
  seg->cookie = 0;
  cache_put(seg);
}

void *_sa_huge_realloc(sa_segment_t *seg, size_t size) {
  size_t offset = (size_t)(seg->huge_block - (uint8_t *)seg);
  size_t page = _sa_os_page_size();
  if (size > SIZE_MAX / 2 - offset - page)
    return NULL;
  size_t needed = round_up(offset + size, page);
  size_t old_size = seg->mapped_size;
  if (needed <= old_size && needed >= old_size / 2)
    return seg->huge_block;
  /* Resize where it is, else move the pages: never copy them. */
  _sa_segment_unregister(seg);
  sa_segment_t *moved = seg;
  if (!resize_in_place(seg, needed))
    moved = move(seg, needed, mapping_align(offset));
  if (moved == NULL) {
    _sa_segment_register(seg);
    return NULL;
  }
  live_add(needed - old_size);
  huge_init(moved, needed, offset);
  _sa_segment_register(moved);
  return moved->huge_block;
}
