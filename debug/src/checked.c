/* The checked memory functions of the debug drop-ins: memcpy, memmove,
 * memset, strcpy, strncpy, strcat, strncat, stpcpy, and the glibc _chk
 * variants that programs built with _FORTIFY_SOURCE call. Each checks the
 * ranges it will read and write against the heap blocks they touch
 * (memory.c) and reports a stray one before any byte is written, with the
 * backtrace from the caller; then (if the program goes on) does what libc
 * does. Memory that isn't ours costs a segment map look-up per range end.
 * Only the drop-ins link this file: the prefixed build leaves libc's. */
#include "debug.h"

#include <string.h>

/* Declares and defines checked_<name>, exported as <name>: internal.h
 * gives the standard names to the allocator's own unchecked copies. */
#define CHECKED(ret, name, params)                                             \
  __attribute__((visibility("default")))                                       \
  ret checked_##name params __asm__(#name);                                    \
  ret checked_##name params

/* glibc's: "*** buffer overflow detected ***" and abort. */
extern void __chk_fail(void) __attribute__((noreturn));

/* No _chk bound on the destination. */
#define NO_BOUND SIZE_MAX

/* Checks one range, at no more than the segment map look-ups unless it
 * may touch the heap; `frame` is the exported function's. */
static inline void check(const void *p, size_t n, bool write, const char *fn,
                         const void *frame) {
  if (SA_UNLIKELY(sa_dbg_may_touch_heap(p, n)))
    _sa_dbg_check_range(p, n, write, fn, frame);
}

static inline void *copy(void *dst, const void *src, size_t n, size_t bound,
                         bool overlap, const char *fn, const void *frame) {
  check(dst, n, true, fn, frame);
  check(src, n, false, fn, frame);
  if (n > bound)
    __chk_fail();
  return overlap ? _sa_dbg_memmove(dst, src, n) : _sa_dbg_memcpy(dst, src, n);
}

static inline void *fill(void *dst, int c, size_t n, size_t bound,
                         const char *fn, const void *frame) {
  check(dst, n, true, fn, frame);
  if (n > bound)
    __chk_fail();
  return _sa_dbg_memset(dst, c, n);
}

/* strcpy and stpcpy: the end of the copy in dst. Strings are moved, not
 * copied: an overlapping strcpy is undefined, yet common (and works with
 * glibc's). */
static inline char *copy_string(char *dst, const char *src, size_t bound,
                                const char *fn, const void *frame) {
  size_t len = _sa_dbg_strnlen(src, NO_BOUND, fn, frame);
  check(dst, len + 1, true, fn, frame);
  if (len >= bound)
    __chk_fail();
  _sa_dbg_memmove(dst, src, len + 1);
  return dst + len;
}

static inline char *copy_string_n(char *dst, const char *src, size_t n,
                                  size_t bound, const char *fn,
                                  const void *frame) {
  size_t len = _sa_dbg_strnlen(src, n, fn, frame);
  check(dst, n, true, fn, frame);
  if (n > bound)
    __chk_fail();
  _sa_dbg_memmove(dst, src, len);
  _sa_dbg_memset(dst + len, 0, n - len);
  return dst;
}

/* strcat (n == NO_BOUND) and strncat. */
static inline char *append(char *dst, const char *src, size_t n, size_t bound,
                           const char *fn, const void *frame) {
  size_t at = _sa_dbg_strnlen(dst, NO_BOUND, fn, frame);
  size_t len = _sa_dbg_strnlen(src, n, fn, frame);
  check(dst + at, len + 1, true, fn, frame);
  if (at + len >= bound)
    __chk_fail();
  _sa_dbg_memmove(dst + at, src, len);
  dst[at + len] = '\0';
  return dst;
}

#define FRAME __builtin_frame_address(0)

CHECKED(void *, memcpy,
        (void *restrict dst, const void *restrict src, size_t n)) {
  return copy(dst, src, n, NO_BOUND, false, "memcpy", FRAME);
}

CHECKED(void *, memmove, (void *dst, const void *src, size_t n)) {
  return copy(dst, src, n, NO_BOUND, true, "memmove", FRAME);
}

CHECKED(void *, memset, (void *dst, int c, size_t n)) {
  return fill(dst, c, n, NO_BOUND, "memset", FRAME);
}

CHECKED(char *, strcpy, (char *restrict dst, const char *restrict src)) {
  copy_string(dst, src, NO_BOUND, "strcpy", FRAME);
  return dst;
}

CHECKED(char *, stpcpy, (char *restrict dst, const char *restrict src)) {
  return copy_string(dst, src, NO_BOUND, "stpcpy", FRAME);
}

CHECKED(char *, strncpy,
        (char *restrict dst, const char *restrict src, size_t n)) {
  return copy_string_n(dst, src, n, NO_BOUND, "strncpy", FRAME);
}

CHECKED(char *, strcat, (char *restrict dst, const char *restrict src)) {
  return append(dst, src, NO_BOUND, NO_BOUND, "strcat", FRAME);
}

CHECKED(char *, strncat,
        (char *restrict dst, const char *restrict src, size_t n)) {
  return append(dst, src, n, NO_BOUND, "strncat", FRAME);
}

/* ---- _FORTIFY_SOURCE: the same, and the compiler's bound on dst ---- */

CHECKED(void *, __memcpy_chk,
        (void *restrict dst, const void *restrict src, size_t n,
         size_t bound)) {
  return copy(dst, src, n, bound, false, "__memcpy_chk", FRAME);
}

CHECKED(void *, __memmove_chk,
        (void *dst, const void *src, size_t n, size_t bound)) {
  return copy(dst, src, n, bound, true, "__memmove_chk", FRAME);
}

CHECKED(void *, __memset_chk, (void *dst, int c, size_t n, size_t bound)) {
  return fill(dst, c, n, bound, "__memset_chk", FRAME);
}

CHECKED(char *, __strcpy_chk,
        (char *restrict dst, const char *restrict src, size_t bound)) {
  copy_string(dst, src, bound, "__strcpy_chk", FRAME);
  return dst;
}

CHECKED(char *, __stpcpy_chk,
        (char *restrict dst, const char *restrict src, size_t bound)) {
  return copy_string(dst, src, bound, "__stpcpy_chk", FRAME);
}

CHECKED(char *, __strncpy_chk,
        (char *restrict dst, const char *restrict src, size_t n,
         size_t bound)) {
  return copy_string_n(dst, src, n, bound, "__strncpy_chk", FRAME);
}

CHECKED(char *, __strcat_chk,
        (char *restrict dst, const char *restrict src, size_t bound)) {
  return append(dst, src, NO_BOUND, bound, "__strcat_chk", FRAME);
}

CHECKED(char *, __strncat_chk,
        (char *restrict dst, const char *restrict src, size_t n,
         size_t bound)) {
  return append(dst, src, n, bound, "__strncat_chk", FRAME);
}
