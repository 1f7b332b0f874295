/* segalloc: a thread-safe segregated-free-list allocator.
 *
 * This header is the whole public API. Every function behaves like its C /
 * POSIX namesake (errno, NULL returns, alignment rules); the drop-in build
 * also exports the unprefixed standard names. */
#ifndef SEGALLOC_H
#define SEGALLOC_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; only this API is exported. */
#define SEGALLOC_API __attribute__((visibility("default")))

SEGALLOC_API void *segalloc_malloc(size_t size);
SEGALLOC_API void segalloc_free(void *ptr);
SEGALLOC_API void *segalloc_calloc(size_t count, size_t size);
SEGALLOC_API void *segalloc_realloc(void *ptr, size_t size);
SEGALLOC_API void *segalloc_reallocarray(void *ptr, size_t count, size_t size);
SEGALLOC_API int segalloc_posix_memalign(void **out, size_t alignment,
                                         size_t size);
SEGALLOC_API void *segalloc_aligned_alloc(size_t alignment, size_t size);
SEGALLOC_API void *segalloc_memalign(size_t alignment, size_t size);
SEGALLOC_API void *segalloc_valloc(size_t size);
SEGALLOC_API void *segalloc_pvalloc(size_t size);
SEGALLOC_API size_t segalloc_usable_size(const void *ptr);

/* Walks every segment and page (and, in the debug build, every block) and
 * returns the number of broken invariants found; each is described on
 * stderr. Segments owned by other live threads are checked only for their
 * header and segment-map entries, since their pages change under us;
 * after those threads exit (or are joined) their memory is checked too. */
SEGALLOC_API int segalloc_check_heap(void);

typedef struct segalloc_stats_s {
  size_t mapped_bytes;  /* bytes currently mapped from the OS */
  size_t in_use_bytes;  /* bytes in blocks handed out (block sizes) */
  size_t in_use_blocks; /* blocks handed out */
  size_t segments;      /* live segments, huge ones included */
} segalloc_stats_t;

/* Fills *out with a snapshot. Exact when no other thread is allocating. */
SEGALLOC_API void segalloc_get_stats(segalloc_stats_t *out);

/* Prints mapped/in-use totals and per-size-class counts to `out`.
 * SEGALLOC_STATS=1 in the environment prints them to stderr at exit. */
SEGALLOC_API void segalloc_print_stats(FILE *out);

#ifdef __cplusplus
}
#endif
#endif /* SEGALLOC_H */
