/* A classic off-by-one: the loop writes one byte past an n-byte block.
 * Plain malloc doesn't notice; under the segalloc debug build the free()
 * reports "heap-buffer-overflow" with the block, its size and the offset.
 *
 *   gcc -g -O0 -o heap_overflow examples/heap_overflow.c
 *   LD_PRELOAD=$PWD/bazel-bin/debug/libsegalloc_debug.so ./heap_overflow */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 24;
  char *buf = malloc(n);
  if (buf == NULL)
    return 1;
  for (size_t i = 0; i <= n; i++) /* bug: <= writes buf[n] */
    buf[i] = (char)('a' + i % 26);
  printf("filled %zu bytes at %p\n", n, (void *)buf);
  fflush(stdout); /* before free(), which the debug build aborts in */
  free(buf);
  return 0;
}
