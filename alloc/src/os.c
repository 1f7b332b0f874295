/* The operating system layer: every mmap/munmap/mremap/madvise of the
 * allocator is here. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/mman.h>
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

/* Maps size + align and trims both ends, so the result is aligned. */
static void *map_aligned(size_t size, size_t align, int prot) {
  if (size + align < size)
    return NULL;
  uint8_t *raw = map(size + align, prot);
  if (raw == NULL)
    return NULL;
  uint8_t *start = (uint8_t *)(((uintptr_t)raw + align - 1) & ~(align - 1));
  if (start > raw)
    munmap(raw, (size_t)(start - raw));
  size_t tail = (size_t)(raw + size + align - (start + size));
  if (tail > 0)
    munmap(start + size, tail);
  return start;
}

void *_sa_os_map_aligned(size_t size, size_t align) {
  void *p = map_aligned(size, align, PROT_READ | PROT_WRITE);
  if (p != NULL)
    atomic_fetch_add_explicit(&sa_mapped, size, memory_order_relaxed);
  return p;
}

void _sa_os_unmap(void *addr, size_t size) {
  munmap(addr, size);
  atomic_fetch_sub_explicit(&sa_mapped, size, memory_order_relaxed);
}

void *_sa_os_remap_aligned(void *old, size_t old_size, size_t new_size,
                           size_t align) {
  /* Reserve an aligned hole, then move the pages into it: no copy. */
  void *hole = map_aligned(new_size, align, PROT_NONE);
  if (hole == NULL)
    return NULL;
  void *moved =
      mremap(old, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
  if (moved == MAP_FAILED) {
    munmap(hole, new_size);
    return NULL;
  }
  atomic_fetch_add_explicit(&sa_mapped, new_size - old_size,
                            memory_order_relaxed);
  return moved;
}

void _sa_os_purge(void *addr, size_t size) {
  madvise(addr, size, MADV_DONTNEED);
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
