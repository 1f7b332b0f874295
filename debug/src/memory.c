/* Copies and fills in the debug build: the allocator's own memcpy, memmove
 * and memset, and the range check the drop-ins' checked memory functions
 * (checked.c) run before they copy.
 *
 * The drop-ins export memcpy & co, so the allocator can't call "memcpy":
 * it would check itself (and find its own footers and poison). Its calls
 * come here instead (internal.h) and go on to libc's functions, found by
 * dlsym(RTLD_NEXT) past any interposer once libc is up; before that (a
 * constructor of another library allocating), a plain byte loop. */
#include "debug.h"

#include <dlfcn.h>
#include <string.h>

typedef void *(*copy_fn_t)(void *, const void *, size_t);
typedef void *(*set_fn_t)(void *, int, size_t);
static _Atomic(copy_fn_t) libc_memcpy, libc_memmove;
static _Atomic(set_fn_t) libc_memset;

__attribute__((constructor)) static void find_libc(void) {
  atomic_store(&libc_memcpy, (copy_fn_t)dlsym(RTLD_NEXT, "memcpy"));
  atomic_store(&libc_memmove, (copy_fn_t)dlsym(RTLD_NEXT, "memmove"));
  atomic_store(&libc_memset, (set_fn_t)dlsym(RTLD_NEXT, "memset"));
}

/* The byte loops: volatile, so that no compiler turns them back into a
 * call to memcpy or memset. */
static void *copy_bytes(void *dst, const void *src, size_t n) {
  volatile uint8_t *d = dst;
  const volatile uint8_t *s = src;
  if (d <= s || d >= s + n) {
    for (size_t i = 0; i < n; i++)
      d[i] = s[i];
  } else {
    for (size_t i = n; i-- > 0;)
      d[i] = s[i];
  }
  return dst;
}

void *_sa_dbg_memcpy(void *restrict dst, const void *restrict src, size_t n) {
  copy_fn_t f = atomic_load_explicit(&libc_memcpy, memory_order_relaxed);
  return SA_LIKELY(f != NULL) ? f(dst, src, n) : copy_bytes(dst, src, n);
}

void *_sa_dbg_memmove(void *dst, const void *src, size_t n) {
  copy_fn_t f = atomic_load_explicit(&libc_memmove, memory_order_relaxed);
  return SA_LIKELY(f != NULL) ? f(dst, src, n) : copy_bytes(dst, src, n);
}

void *_sa_dbg_memset(void *dst, int c, size_t n) {
  set_fn_t f = atomic_load_explicit(&libc_memset, memory_order_relaxed);
  if (SA_LIKELY(f != NULL))
    return f(dst, c, n);
  volatile uint8_t *d = dst;
  for (size_t i = 0; i < n; i++)
    d[i] = (uint8_t)c;
  return dst;
}

bool _sa_dbg_check_range(const void *p, size_t n, bool write, const char *fn,
                         const void *frame) {
  const uint8_t *a = p;
  if (n == 0)
    return true;
  /* The block at the start, else the one at the end (a range that starts
   * before a block). A range that starts and ends outside every block,
   * yet spans one, goes unseen. */
  const sa_dbg_header_t *h = _sa_dbg_header_of(a);
  if (h == NULL)
    h = _sa_dbg_header_of(a + n - 1);
  if (h == NULL)
    return true;
  const uint8_t *user = sa_dbg_user(h);
  size_t inside = a < user + h->size ? (size_t)(user + h->size - a) : 0;
  segalloc_error_t err = {.address = a,
                          .block = user,
                          .requested_size = h->size,
                          .damaged_bytes = n};
  const char *access = write ? "WRITE" : "READ";
  if (a < user) {
    err.kind = SEGALLOC_ERR_HEAP_BUFFER_UNDERFLOW;
    err.damaged_offset = (size_t)0 - (size_t)(user - a);
    if ((size_t)(user - a) < n)
      err.damaged_bytes = (size_t)(user - a);
    _sa_dbg_report_from(frame, &err, h,
                        "%s of %zu byte(s) at %p by %s starts %zu byte(s) "
                        "before the %zu-byte block at %p",
                        access, n, p, fn, (size_t)(user - a), h->size,
                        (const void *)user);
  } else if (h->state != SA_DBG_LIVE) {
    err.kind = SEGALLOC_ERR_USE_AFTER_FREE;
    err.damaged_offset = (size_t)(a - user);
    _sa_dbg_report_from(frame, &err, h,
                        "%s of %zu byte(s) at %p by %s, at offset %zu of the "
                        "freed %zu-byte block at %p",
                        access, n, p, fn, (size_t)(a - user), h->size,
                        (const void *)user);
  } else if (n > inside) {
    err.kind = SEGALLOC_ERR_HEAP_BUFFER_OVERFLOW;
    err.address = a + inside;
    err.damaged_offset = (size_t)(a + inside - user);
    err.damaged_bytes = n - inside;
    _sa_dbg_report_from(frame, &err, h,
                        "%s of %zu byte(s) at %p by %s goes %zu byte(s) past "
                        "the end of the %zu-byte block at %p",
                        access, n, p, fn, n - inside, h->size,
                        (const void *)user);
  } else {
    return true;
  }
  return false;
}

size_t _sa_dbg_strnlen(const char *s, size_t max, const char *fn,
                       const void *frame) {
  size_t limit = max;
  const sa_dbg_header_t *h = _sa_dbg_header_of(s);
  if (h != NULL) {
    const char *user = (const char *)sa_dbg_user(h);
    if (s >= user && s < user + h->size && (size_t)(user + h->size - s) < limit)
      limit = (size_t)(user + h->size - s);
  }
  size_t len = strnlen(s, limit);
  /* The string and its terminator, unless max cut it short. */
  if (!_sa_dbg_check_range(s, len < max ? len + 1 : len, false, fn, frame) &&
      len == limit && limit < max)
    len += strnlen(s + len, max - len);
  return len;
}
