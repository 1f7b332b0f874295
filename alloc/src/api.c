/* The public API (segalloc.h): argument checks, errno, and the C/POSIX
 * rules of each call, over the core (or, in the debug build, the debug
 * layer's hooks). */
#include "hooks.h"
#include "segalloc.h"

#include <errno.h>
#include <stdint.h>

#if SEGALLOC_DEBUG
/* The frame of the public call: the debug layer's backtraces start at its
 * caller. The helpers below are always inlined, so this is that frame. */
#define SA_FRAME __builtin_frame_address(0)
#define SA_ALLOC(size, align, zero) _sa_dbg_alloc(size, align, zero, SA_FRAME)
#define SA_FREE(p) _sa_dbg_free(p, SA_FRAME)
#define SA_REALLOC(p, size) _sa_dbg_realloc(p, size, SA_FRAME)
#define SA_USABLE_SIZE _sa_dbg_usable_size
/* malloc's and calloc's: the debug layer chooses (hooks.h). */
#define SA_MALLOC_ALIGN 0
#else
#define SA_ALLOC alloc_core
#define SA_FREE _sa_free
#define SA_REALLOC _sa_realloc
#define SA_USABLE_SIZE _sa_usable_size
#define SA_MALLOC_ALIGN SA_MIN_ALIGN
#endif

#if !SEGALLOC_DEBUG
/* The fast path inlined here, saving a call on every malloc. */
static inline void *alloc_core(size_t size, size_t align, bool zero) {
  if (SA_LIKELY(size <= SA_LARGE_MAX && align <= SA_MIN_ALIGN && !zero))
    return _sa_alloc_small(size);
  return _sa_alloc(size, align, zero);
}
#endif

/* No object may be larger than PTRDIFF_MAX: fail early, never wrap. */
static inline bool size_ok(size_t size) {
  if (SA_LIKELY(size <= PTRDIFF_MAX))
    return true;
  errno = ENOMEM;
  return false;
}

static inline bool is_power_of_two(size_t n) {
  return n != 0 && (n & (n - 1)) == 0;
}

void *segalloc_malloc(size_t size) {
  if (SA_LIKELY(size <= 1024)) /* one compare on the common path */
    return SA_ALLOC(size, SA_MALLOC_ALIGN, false);
  return size_ok(size) ? SA_ALLOC(size, SA_MALLOC_ALIGN, false) : NULL;
}

void segalloc_free(void *ptr) {
  if (ptr != NULL)
    SA_FREE(ptr);
}

void *segalloc_calloc(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return size_ok(total) ? SA_ALLOC(total, SA_MALLOC_ALIGN, true) : NULL;
}

void *segalloc_realloc(void *ptr, size_t size) {
  if (ptr == NULL)
    return segalloc_malloc(size);
  if (size == 0) { /* as glibc: free, and return NULL */
    SA_FREE(ptr);
    return NULL;
  }
  return size_ok(size) ? SA_REALLOC(ptr, size) : NULL;
}

void *segalloc_reallocarray(void *ptr, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return segalloc_realloc(ptr, total);
}

/* Aligned allocation once `align` is known to be a power of two. */
static inline __attribute__((always_inline)) void *alloc_aligned(size_t align,
                                                                 size_t size) {
  if (align > SA_MAX_ALIGN) {
    errno = ENOMEM;
    return NULL;
  }
  if (align < SA_MIN_ALIGN)
    align = SA_MIN_ALIGN;
  return size_ok(size) ? SA_ALLOC(size, align, false) : NULL;
}

int segalloc_posix_memalign(void **out, size_t align, size_t size) {
  if (!is_power_of_two(align) || align % sizeof(void *) != 0)
    return EINVAL;
  int saved = errno;
  void *p = alloc_aligned(align, size);
  if (p == NULL) {
    int err = errno;
    errno = saved;
    return err;
  }
  *out = p;
  return 0;
}

void *segalloc_aligned_alloc(size_t align, size_t size) {
  if (!is_power_of_two(align)) {
    errno = EINVAL;
    return NULL;
  }
  return alloc_aligned(align, size);
}

void *segalloc_memalign(size_t align, size_t size) {
  /* glibc's rule: a non-power-of-two alignment rounds up. */
  if (align > SIZE_MAX / 2 + 1) {
    errno = EINVAL;
    return NULL;
  }
  while (!is_power_of_two(align))
    align = align == 0 ? 1 : (align | (align - 1)) + 1;
  return alloc_aligned(align, size);
}

void *segalloc_valloc(size_t size) {
  return alloc_aligned(_sa_os_page_size(), size);
}

void *segalloc_pvalloc(size_t size) {
  size_t page = _sa_os_page_size();
  if (size > SIZE_MAX - page) {
    errno = ENOMEM;
    return NULL;
  }
  size_t rounded = size == 0 ? page : sa_align_up(size, page);
  return alloc_aligned(page, rounded);
}

size_t segalloc_usable_size(const void *ptr) {
  return ptr == NULL ? 0 : SA_USABLE_SIZE(ptr);
}
