/* Prints the op program an input decodes to, one op a line, so a finding
 * can be read and reported as a call sequence:
 *
 *   dump FILE
 *
 * Links with the decoder and the allocator (the decoder measures the size
 * classes through segalloc_usable_size). */
#include "sf_ops.h"

#include <stdio.h>
#include <stdlib.h>

static const char *const misuse_names[SF_MISUSE_COUNT] = {
    "overflow",      "underflow",    "double-free",
    "interior-free", "invalid-free", "write-after-free",
};

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s FILE\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) {
    perror(argv[1]);
    return 1;
  }
  static uint8_t data[1 << 20];
  size_t n = fread(data, 1, sizeof data, f);
  fclose(f);
  static sf_program_t prog;
  sf_decode(data, n, &prog);
  printf("# %zu bytes, %zu ops, %u threads (MT target)\n", n, prog.count,
         prog.threads);
  for (size_t i = 0; i < prog.count; i++) {
    const sf_op_t *op = &prog.ops[i];
    printf("#%zu %s slot=%u", i, sf_op_name(op), op->slot);
    switch (op->kind) {
    case SF_OP_CALLOC:
    case SF_OP_REALLOCARRAY:
      printf(" count=%zu size=%zu", op->count, op->size);
      break;
    case SF_OP_ALIGNED:
      printf(" align=%zu size=%zu", op->align, op->size);
      break;
    case SF_OP_MALLOC:
    case SF_OP_REALLOC:
      printf(" size=%zu", op->size);
      break;
    case SF_OP_MISUSE:
      printf(" %s arg=%u", misuse_names[op->variant % SF_MISUSE_COUNT],
             op->arg);
      break;
    default:
      break;
    }
    printf("%s\n", op->must_fail ? " (must fail)" : "");
  }
  return 0;
}
