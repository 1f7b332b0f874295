/* See sf_debug.h. */
#include "sf_debug.h"

#include <string.h>

static void capture(const segalloc_error_t *err, void *ctx) {
  sf_reports_t *r = ctx;
  if (r->count++ == 0)
    r->first = *err;
}

void sf_capture_start(sf_reports_t *out) {
  memset(out, 0, sizeof *out);
  segalloc_set_error_handler(capture, out);
}

void sf_capture_stop(void) {
  segalloc_set_error_handler(NULL, NULL);
}

void sf_expect_no_report(const sf_reports_t *r, size_t index,
                         const char *kind) {
  if (r->count != 0)
    sf_fail(index, kind,
            "debug build reported %zu error(s) on a correct program, first: "
            "%s at %p (block %p, size %zu, offset %zu)",
            r->count, segalloc_error_kind_name(r->first.kind), r->first.address,
            r->first.block, r->first.requested_size, r->first.damaged_offset);
}

static int count_block(void *ptr, size_t size, const void *site, void *ctx) {
  (void)ptr, (void)size, (void)site;
  ++*(size_t *)ctx;
  return 0;
}

size_t sf_walk_count(void) {
  size_t n = 0;
  segalloc_walk_heap(count_block, &n);
  return n;
}

typedef struct walk_s {
  const sf_model_t *m;
  size_t index, seen;
} walk_t;

static int match_block(void *ptr, size_t size, const void *site, void *ctx) {
  walk_t *w = ctx;
  (void)site;
  for (unsigned s = 0; s < SF_SLOTS; s++) {
    const sf_block_t *b = &w->m->slots[s];
    if (b->p == ptr) {
      if (size != b->size)
        sf_fail(w->index, "walk_heap",
                "block %p (slot %u) walked with size %zu, requested %zu", ptr,
                s, size, b->size);
      w->seen++;
    }
  }
  return 0;
}

void sf_check_walk(const sf_model_t *m, size_t base, size_t index) {
  size_t live = 0;
  for (unsigned s = 0; s < SF_SLOTS; s++)
    live += m->slots[s].p != NULL;
  walk_t w = {m, index, 0};
  size_t visited = segalloc_walk_heap(match_block, &w);
  if (w.seen != live || visited != base + live)
    sf_fail(index, "walk_heap",
            "walk visited %zu blocks (%zu of the %zu live ones), want %zu + "
            "%zu",
            visited, w.seen, live, base, live);
}

const sf_hooks_t sf_debug_hooks = {
    .before_stats = segalloc_flush_quarantine,
    .misuse = NULL,
    .small_align_by_size = 1,
};
