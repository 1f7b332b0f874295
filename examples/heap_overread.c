/* An out-of-bounds READ: the sum runs one element past a 16-int array.
 * Plain malloc returns whatever lies there, and nothing is ever written,
 * so no check at free can see it; under the segalloc debug build with
 * guard pages, the read itself faults and is reported as a
 * "heap-buffer-overflow" READ, with the backtrace of the access. (Blocks
 * stay 16-byte aligned: a read into the 0-15 bytes of slack after a block
 * whose size isn't a multiple of 16 is not seen; writes there are, at
 * free.)
 *
 *   gcc -g -O0 -o heap_overread examples/heap_overread.c
 *   SEGALLOC_GUARD=all \
 *     LD_PRELOAD=$PWD/bazel-bin/debug/libsegalloc_debug.so ./heap_overread */
#include <stdio.h>
#include <stdlib.h>

static long sum(const int *v, size_t n) {
  long total = 0;
  for (size_t i = 0; i <= n; i++) /* bug: <= reads v[n] */
    total += v[i];
  return total;
}

int main(int argc, char **argv) {
  size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 16;
  int *v = malloc(n * sizeof(*v));
  if (v == NULL)
    return 1;
  for (size_t i = 0; i < n; i++)
    v[i] = (int)i;
  printf("summing %zu ints at %p\n", n, (void *)v);
  fflush(stdout); /* before the read the debug build aborts in */
  printf("sum: %ld\n", sum(v, n));
  free(v);
  return 0;
}
