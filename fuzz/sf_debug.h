/* Shared by the two debug-build targets: error-report capture and the
 * checks that only the debug API makes possible. */
#ifndef SF_DEBUG_H
#define SF_DEBUG_H

#include "sf_model.h"

#include "segalloc_debug.h"

/* The first report since sf_capture_start(), and how many came. */
typedef struct sf_reports_s {
  size_t count;
  segalloc_error_t first;
} sf_reports_t;

/* Routes every report to `out` (zeroed first) instead of the default
 * print-and-abort; sf_capture_stop() restores the default handler. */
void sf_capture_start(sf_reports_t *out);
void sf_capture_stop(void);

/* Fails (naming op `index`) when any report arrived. */
void sf_expect_no_report(const sf_reports_t *r, size_t index, const char *kind);

/* segalloc_walk_heap must see exactly the model's live blocks, with their
 * requested sizes, plus the `base` blocks live before the input. */
size_t sf_walk_count(void);
void sf_check_walk(const sf_model_t *m, size_t base, size_t index);

extern const sf_hooks_t sf_debug_hooks; /* before_stats: flush quarantine */

#endif /* SF_DEBUG_H */
