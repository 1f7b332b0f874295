#include <stdio.h>
#include <stdlib.h>

#include "segalloc.h"

int main(void) {
  segalloc_stats_t before, after;
  segalloc_get_stats(&before);
  void *p = malloc(1000); /* the plain malloc is segalloc's */
  segalloc_get_stats(&after);
  printf("malloc(1000) = %p, usable %zu; segalloc blocks in use %zu -> %zu\n",
         p, segalloc_usable_size(p), before.in_use_blocks, after.in_use_blocks);
  free(p);
  return after.in_use_blocks == before.in_use_blocks + 1 ? 0 : 1;
}
