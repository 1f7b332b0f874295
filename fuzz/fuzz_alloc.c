/* Target 1: the production allocator, single-threaded.
 *
 * Decodes the input into ops (sf_ops.h), runs them through the shadow model
 * (sf_model.h), then frees everything and checks the heap and the stats are
 * back where they started. Built unchanged for libFuzzer, AFL++ and the
 * replay driver. */
#include "sf_model.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sf_program_t *prog = sf_decode_new(data, size);
  if (prog == NULL)
    return 0;
  sf_intervals_t iv;
  sf_model_t m;
  sf_model_single(&m, &iv, NULL);
  for (size_t i = 0; i < prog->count; i++)
    sf_exec(&m, &prog->ops[i], i);
  sf_verify_all(&m, prog->count);
  sf_free_all(&m, prog->count);
  sf_final_checks(&m, prog->count);
  free(prog);
  return 0;
}
