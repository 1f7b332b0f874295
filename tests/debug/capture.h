/* Catches the debug build's error reports in the test's own process: the
 * error handler records them (the first CAPTURE_MAX in full) and the
 * program goes on. A suite uses it as
 *   TestSuite(name, .init = capture_start, .fini = capture_stop); */
#ifndef SEGALLOC_TESTS_DEBUG_CAPTURE_H
#define SEGALLOC_TESTS_DEBUG_CAPTURE_H

#include "segalloc_debug.h"

#include <string.h>

#define CAPTURE_MAX 16

typedef struct captured_s {
  size_t count;
  segalloc_error_t errors[CAPTURE_MAX];
} captured_t;

static captured_t captured;

static inline void capture_record(const segalloc_error_t *err, void *ctx) {
  captured_t *c = ctx;
  if (c->count < CAPTURE_MAX)
    c->errors[c->count] = *err;
  c->count++;
}

static inline void capture_start(void) {
  memset(&captured, 0, sizeof(captured));
  segalloc_set_error_handler(capture_record, &captured);
}

static inline void capture_stop(void) {
  segalloc_set_error_handler(NULL, NULL);
}

#endif /* SEGALLOC_TESTS_DEBUG_CAPTURE_H */
