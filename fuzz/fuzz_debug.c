/* Target 2: the debug build, on correct programs.
 *
 * Same ops and oracle as fuzz_alloc.c; in addition the debug build must
 * stay silent (any error report on a correct program is a false positive)
 * and segalloc_walk_heap must list exactly the live blocks. The quarantine
 * is flushed before stats are read, so quarantined blocks don't count as
 * in use. */
#include "sf_debug.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sf_program_t *prog = sf_decode_new(data, size);
  if (prog == NULL)
    return 0;
  sf_reports_t reports;
  sf_capture_start(&reports);
  sf_intervals_t iv;
  sf_model_t m;
  sf_model_single(&m, &iv, &sf_debug_hooks);
  size_t base_walk = sf_walk_count();
  for (size_t i = 0; i < prog->count; i++) {
    sf_exec(&m, &prog->ops[i], i);
    sf_expect_no_report(&reports, i, sf_op_name(&prog->ops[i]));
  }
  sf_verify_all(&m, prog->count);
  sf_check_walk(&m, base_walk, prog->count);
  sf_free_all(&m, prog->count);
  sf_final_checks(&m, prog->count);
  sf_expect_no_report(&reports, prog->count, "final check");
  sf_capture_stop();
  free(prog);
  return 0;
}
