/* The operating system layer: every mmap/munmap/mremap/madvise/mprotect
 * of the allocator is here. None of them changes errno (free and a successful
 * malloc or realloc must leave it as it was): callers set ENOMEM
 * themselves when they give up. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static _Atomic size_t sa_mapped;

size_t _sa_os_page_size(void) {
  static size_t page;
  if (page == 0)
    page = (size_t)sysconf(_SC_PAGESIZE);
  return page;
}

size_t _sa_os_mapped_bytes(void) {
  return atomic_load_explicit(&sa_mapped, memory_order_relaxed);
}

static void *map(size_t size, int prot) {
  void *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* The lowest address mapped so far: the kernel maps top-down, so below it
 * the address space is usually free. */
static _Atomic uintptr_t sa_low_water = UINTPTR_MAX;

static void note_low_water(const void *p) {
  uintptr_t low = atomic_load_explicit(&sa_low_water, memory_order_relaxed);
  while ((uintptr_t)p < low &&
         !atomic_compare_exchange_weak_explicit(
             &sa_low_water, &low, (uintptr_t)p, memory_order_relaxed,
             memory_order_relaxed)) {
  }
}

/* `size` bytes exactly at `at`, if that range is free. */
static void *map_at(uint8_t *at, size_t size, int prot) {
  void *p = mmap(
      at, size, prot,
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  if (p == at)
    return p;
  munmap(p, size); /* kernels before 4.17 take the flag as a mere hint */
  return NULL;
}

/* Without room for the slack (under an address-space limit): `size`
 * bytes where the kernel puts them if that is aligned, else at an aligned
 * address next to that, or below everything mapped so far. */
static void *map_aligned_tight(size_t size, size_t align, int prot) {
  uint8_t *p = map(size, prot);
  if (p == NULL || ((uintptr_t)p & (align - 1)) == 0)
    return p;
  munmap(p, size);
  uintptr_t low = atomic_load_explicit(&sa_low_water, memory_order_relaxed);
  uintptr_t candidates[3] = {
      ((uintptr_t)p + align - 1) & ~(align - 1),
      (uintptr_t)p & ~(align - 1),
      low > size + align ? (low - size) & ~(align - 1) : 0,
  };
  for (size_t i = 0; i < 3; i++) {
    void *at = candidates[i] == 0
                   ? NULL
                   : map_at((uint8_t *)candidates[i], size, prot);
    if (at != NULL)
      return at;
  }
  return NULL;
}

/* Maps size + align and trims both ends, so the result is aligned. */
static void *map_aligned(size_t size, size_t align, int prot) {
  uint8_t *raw = size + align < size ? NULL : map(size + align, prot);
  if (raw == NULL)
    return map_aligned_tight(size, align, prot);
  uint8_t *start = (uint8_t *)(((uintptr_t)raw + align - 1) & ~(align - 1));
  if (start > raw)
    munmap(raw, (size_t)(start - raw));
  size_t tail = (size_t)(raw + size + align - (start + size));
  if (tail > 0)
    munmap(start + size, tail);
  return start;
}

void *_sa_os_map_aligned(size_t size, size_t align) {
  int saved = errno;
  void *p = map_aligned(size, align, PROT_READ | PROT_WRITE);
  if (p != NULL) {
    atomic_fetch_add_explicit(&sa_mapped, size, memory_order_relaxed);
    note_low_water(p);
  }
  errno = saved;
  return p;
}

void _sa_os_unmap(void *addr, size_t size) {
  int saved = errno;
  munmap(addr, size);
  atomic_fetch_sub_explicit(&sa_mapped, size, memory_order_relaxed);
  errno = saved;
}

bool _sa_os_extend(void *addr, size_t old_size, size_t new_size) {
  int saved = errno;
  bool done = mremap(addr, old_size, new_size, 0) != MAP_FAILED;
  if (done)
    atomic_fetch_add_explicit(&sa_mapped, new_size - old_size,
                              memory_order_relaxed);
  errno = saved;
  return done;
}

void *_sa_os_remap_aligned(void *old, size_t old_size, size_t new_size,
                           size_t align) {
  void *to = _sa_os_map_aligned(new_size, align);
  if (to != NULL && !_sa_os_move(old, old_size, to, new_size)) {
    _sa_os_unmap(to, new_size);
    to = NULL;
  }
  return to;
}

bool _sa_os_move(void *old, size_t old_size, void *to, size_t new_size) {
  int saved = errno;
  bool moved = mremap(old, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED,
                      to) != MAP_FAILED;
  if (moved) /* `to` was counted when it was mapped */
    atomic_fetch_sub_explicit(&sa_mapped, old_size, memory_order_relaxed);
  errno = saved;
  return moved;
}

void _sa_os_purge(void *addr, size_t size) {
  int saved = errno;
  madvise(addr, size, MADV_DONTNEED);
  errno = saved;
}

void _sa_os_prefer_huge_pages(void *addr, size_t size) {
  int saved = errno;
  madvise(addr, size, MADV_HUGEPAGE);
  errno = saved;
}

uint64_t _sa_os_now_ms(void) {
  struct timespec now; /* the coarse clock: read in the vDSO, no syscall */
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* Address space for the debug build's guard pages: not memory, so not
 * counted in sa_mapped. */
void *_sa_os_reserve(size_t size, bool access) {
  int saved = errno;
  void *p = map(size, access ? PROT_READ | PROT_WRITE : PROT_NONE);
  errno = saved;
  return p;
}

bool _sa_os_protect(void *addr, size_t size, bool access) {
  int saved = errno;
  bool done;
  if (access)
    done = mprotect(addr, size, PROT_READ | PROT_WRITE) == 0;
  else /* a fresh inaccessible mapping in place drops the pages too */
    done = mmap(addr, size, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
                0) != MAP_FAILED;
  errno = saved;
  return done;
}

size_t _sa_os_max_mappings(void) {
  int saved = errno;
  char text[32] = {0};
  ssize_t n = -1;
  int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
  }
  errno = saved;
  return n > 0 ? (size_t)strtoull(text, NULL, 10) : 0;
}

void _sa_message(const char *fmt, ...) {
  /* No stdio: this may run inside malloc, or with the heap damaged. */
  char line[512] = "segalloc: ";
  size_t len = 10;
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(line + len, sizeof(line) - len - 1, fmt, args);
  va_end(args);
  len += n < 0                                ? 0
         : (size_t)n < sizeof(line) - len - 1 ? (size_t)n
                                              : sizeof(line) - len - 2;
  line[len++] = '\n';
  for (size_t done = 0; done < len;) {
    ssize_t w = write(2, line + done, len - done);
    if (w <= 0)
      break;
    done += (size_t)w;
  }
}
