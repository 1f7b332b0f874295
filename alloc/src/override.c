/* The drop-in build: the standard C/POSIX/glibc allocation symbols, so that
 * linking this library (or LD_PRELOAD of libsegalloc.so) replaces the
 * system allocator. Each is the segalloc_ call of the same name. */
#include "segalloc.h"

#include <malloc.h>
#include <stdlib.h>

/* C23 names that glibc 2.36's headers don't declare yet. */
void free_sized(void *ptr, size_t size);
void free_aligned_sized(void *ptr, size_t align, size_t size);

#define SA_EXPORT __attribute__((visibility("default")))

SA_EXPORT void *malloc(size_t size) {
  return segalloc_malloc(size);
}
SA_EXPORT void free(void *ptr) {
  segalloc_free(ptr);
}
SA_EXPORT void *calloc(size_t count, size_t size) {
  return segalloc_calloc(count, size);
}
SA_EXPORT void *realloc(void *ptr, size_t size) {
  return segalloc_realloc(ptr, size);
}
SA_EXPORT void *reallocarray(void *ptr, size_t count, size_t size) {
  return segalloc_reallocarray(ptr, count, size);
}
SA_EXPORT int posix_memalign(void **out, size_t align, size_t size) {
  return segalloc_posix_memalign(out, align, size);
}
SA_EXPORT void *aligned_alloc(size_t align, size_t size) {
  return segalloc_aligned_alloc(align, size);
}
SA_EXPORT void *memalign(size_t align, size_t size) {
  return segalloc_memalign(align, size);
}
SA_EXPORT void *valloc(size_t size) {
  return segalloc_valloc(size);
}
SA_EXPORT void *pvalloc(size_t size) {
  return segalloc_pvalloc(size);
}
SA_EXPORT size_t malloc_usable_size(void *ptr) {
  return segalloc_usable_size(ptr);
}
/* glibc's C23 free_sized / free_aligned_sized may appear in newer code. */
SA_EXPORT void free_sized(void *ptr, size_t size) {
  (void)size;
  segalloc_free(ptr);
}
SA_EXPORT void free_aligned_sized(void *ptr, size_t align, size_t size) {
  (void)align;
  (void)size;
  segalloc_free(ptr);
}
