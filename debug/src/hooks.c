/* The hooks (alloc/src/hooks.h) through which the public API runs in the
 * debug build, and the debug-only API of segalloc_debug.h built on the
 * registries: heap walk, leak check, quarantine flush, per-input check. */
#include "debug.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* SEGALLOC_CHECK_EVERY: a full heap check every n calls of this thread. */
static inline void count_call(sa_dbg_thread_t *t) {
  uint64_t every = _sa_dbg_options.check_every;
  if (SA_UNLIKELY(every != 0) && t != NULL && ++t->calls % every == 0)
    segalloc_check_heap();
}

/* Lists a new block of `kind` in t; its user bytes, or NULL when out of
 * memory. */
static void *publish(sa_dbg_thread_t *t, sa_dbg_header_t *h,
                     sa_dbg_kind_t kind) {
  h->kind = (uint16_t)kind;
  if (SA_LIKELY(_sa_dbg_live_add(t, h)))
    return sa_dbg_user(h);
  if (sa_dbg_guarded(h))
    _sa_dbg_guard_retire(h);
  else
    _sa_free(sa_dbg_base(h));
  errno = ENOMEM;
  return NULL;
}

/* A new block of `kind`; junk from user byte junk_from on (debug.h). */
static void *alloc_as(size_t size, size_t align, bool zero, size_t junk_from,
                      sa_dbg_kind_t kind, const void *frame) {
  sa_dbg_thread_t *t = sa_dbg_thread();
  if (t == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  count_call(t);
  if (SA_UNLIKELY(sa_dbg_guard_wanted(frame))) {
    sa_dbg_header_t *h = _sa_dbg_guard_alloc(size, align, zero, frame, t->tid);
    if (h != NULL)
      return publish(t, h, kind);
  }
  if (align == 0)
    align = SA_MIN_ALIGN;
  size_t lead = align <= SA_DBG_HEADER_SIZE ? SA_DBG_HEADER_SIZE : align;
  /* size <= PTRDIFF_MAX and lead <= SA_MAX_ALIGN: no overflow. */
  size_t core_size = lead + size + SA_DBG_FOOTER_MIN;
  uint8_t *aligned = _sa_alloc(core_size, align, zero);
  if (aligned == NULL)
    return NULL;
  /* The core pads aligned blocks: the debug block starts where its does.
   * An unaligned one up to SA_LARGE_MAX is a block of its size class. */
  size_t block_size;
  uint8_t *base = aligned;
  if (align > SA_MIN_ALIGN)
    base = _sa_block_start(aligned, &block_size);
  else if (core_size <= SA_LARGE_MAX)
    block_size = _sa_class_size[sa_size_class(core_size)];
  else
    block_size = _sa_usable_size(aligned);
  size_t offset = (size_t)(aligned - base) + lead;
  return publish(t,
                 _sa_dbg_block_init(base, block_size, offset, size,
                                    zero ? size : junk_from, frame, t->tid),
                 kind);
}

void *_sa_dbg_alloc(size_t size, size_t align, bool zero, const void *frame) {
  return alloc_as(size, align, zero, 0, SA_DBG_MALLOC, frame);
}

void *_sa_dbg_new(size_t size, size_t align, bool array, const void *frame) {
  if (align < SA_MIN_ALIGN)
    align = SA_MIN_ALIGN;
  if (size > PTRDIFF_MAX || align > SA_MAX_ALIGN || (align & (align - 1))) {
    errno = ENOMEM;
    return NULL;
  }
  return alloc_as(size, align, false, 0, array ? SA_DBG_NEW_ARRAY : SA_DBG_NEW,
                  frame);
}

/* Takes a live block out of use (_sa_dbg_retire); a guarded one goes to
 * the guard quarantine (made inaccessible). Whether it is guarded is read
 * first: a block larger than the quarantine leaves it at once, its memory
 * given back. */
static void retire(sa_dbg_header_t *h, bool intact, const void *frame) {
  bool guarded = sa_dbg_guarded(h);
  if (SA_UNLIKELY(!_sa_dbg_retire(h, intact, frame))) {
    segalloc_error_t err = {.kind = SEGALLOC_ERR_DOUBLE_FREE,
                            .address = sa_dbg_user(h),
                            .block = sa_dbg_user(h),
                            .requested_size = h->size};
    _sa_dbg_report(&err, h, "the %zu-byte block at %p was freed twice at once",
                   h->size, (void *)sa_dbg_user(h));
  } else if (SA_UNLIKELY(guarded)) {
    _sa_dbg_guard_retire(h);
  }
}

static const char *const alloc_names[] = {"malloc", "operator new",
                                          "operator new[]"};
static const char *const free_names[] = {"free", "operator delete",
                                         "operator delete[]"};

/* Reports (from `frame`) a live block freed by a call that doesn't match
 * its allocation (`kind`), or by a sized delete of another size. The
 * block is freed anyway if the program goes on. */
static __attribute__((noinline, cold)) void
report_kind(const sa_dbg_header_t *h, sa_dbg_kind_t kind, size_t size,
            const char *by, const void *frame) {
  segalloc_error_t err = {.address = sa_dbg_user(h),
                          .block = sa_dbg_user(h),
                          .requested_size = h->size};
  if (SA_UNLIKELY(h->kind != kind)) {
    err.kind = SEGALLOC_ERR_ALLOC_DEALLOC_MISMATCH;
    _sa_dbg_report_from(frame, &err, h,
                        "the %zu-byte block at %p was allocated by %s and "
                        "freed by %s",
                        h->size, err.block, alloc_names[h->kind], by);
  } else if (SA_UNLIKELY(size != SA_DBG_UNSIZED && size != h->size)) {
    err.kind = SEGALLOC_ERR_NEW_DELETE_SIZE_MISMATCH;
    _sa_dbg_report_from(frame, &err, h,
                        "%s of %zu byte(s), but the block at %p was "
                        "allocated with %zu bytes by %s",
                        by, size, err.block, h->size, alloc_names[h->kind]);
  }
}

/* The common case inline: the kind matches and the size is unknown or
 * right. */
static inline void check_kind(const sa_dbg_header_t *h, sa_dbg_kind_t kind,
                              size_t size, const char *by, const void *frame) {
  if (SA_UNLIKELY(h->kind != kind ||
                  (size != SA_DBG_UNSIZED && size != h->size)))
    report_kind(h, kind, size, by, frame);
}

static void free_as(void *p, sa_dbg_kind_t kind, size_t size,
                    const void *frame) {
  count_call(_sa_dbg_tls);
  sa_dbg_header_t *h = sa_dbg_lookup_live(p);
  if (SA_UNLIKELY(h == NULL) &&
      (h = _sa_dbg_lookup(p, SA_ERR_DOUBLE_FREE)) == NULL)
    return;
  check_kind(h, kind, size, free_names[kind], frame);
  retire(h, _sa_dbg_footer_check(h, NULL), frame);
}

void _sa_dbg_free(void *p, const void *frame) {
  free_as(p, SA_DBG_MALLOC, SA_DBG_UNSIZED, frame);
}

void _sa_dbg_delete(void *p, bool array, size_t size, const void *frame) {
  free_as(p, array ? SA_DBG_NEW_ARRAY : SA_DBG_NEW, size, frame);
}

void *_sa_dbg_realloc(void *p, size_t size, const void *frame) {
  count_call(_sa_dbg_tls);
  sa_dbg_header_t *h = _sa_dbg_lookup(p, SA_ERR_DOUBLE_FREE);
  if (h == NULL) {
    errno = EINVAL;
    return NULL;
  }
  check_kind(h, SA_DBG_MALLOC, SA_DBG_UNSIZED, "realloc", frame);
  bool intact = _sa_dbg_footer_check(h, NULL);
  /* Always moved: a stale pointer to the old block is then a use after
   * free, which the quarantine or a guard page catches. Only the bytes
   * past the copy get junk. */
  size_t kept = size < h->size ? size : h->size;
  void *fresh = alloc_as(size, 0, false, kept, SA_DBG_MALLOC, frame);
  if (fresh == NULL)
    return NULL;
  memcpy(fresh, p, kept);
  retire(h, intact, frame);
  return fresh;
}

size_t _sa_dbg_usable_size(const void *p) {
  sa_dbg_header_t *h = _sa_dbg_lookup(p, SA_ERR_USE_AFTER_FREE);
  return h != NULL ? h->size : 0;
}

/* ---- walks over every thread's registry ---- */

/* The live block in slot i of t, or NULL (free slot, or a damaged header,
 * which `problems`, if set, counts and reports). */
static sa_dbg_header_t *live_block(sa_dbg_thread_t *t, uint32_t i,
                                   int *problems) {
  sa_dbg_header_t *h = sa_dbg_live_at(t, i);
  if (h == NULL)
    return NULL;
  if (_sa_dbg_header_ok(h) && h->state == SA_DBG_LIVE && h->owner == t &&
      h->slot == i)
    return h;
  if (problems != NULL) {
    _sa_dbg_report_bad_header(h);
    ++*problems;
  }
  return NULL;
}

/* A quarantined block is whole: its header, then its poison; a break is
 * reported. */
static bool quarantined_ok(const sa_dbg_header_t *h) {
  if (!_sa_dbg_header_ok(h) || h->state != SA_DBG_QUARANTINED) {
    _sa_dbg_report_bad_header(h);
    return false;
  }
  return _sa_dbg_poison_check(h);
}

static void check_quarantine(sa_dbg_thread_t *t, void *ctx) {
  int *problems = ctx;
  for (size_t i = 0; i < t->ring_len; i++)
    if (!quarantined_ok(t->quarantine[(t->ring_head + i) & (t->ring_cap - 1)]))
      ++*problems;
}

static void check_thread(sa_dbg_thread_t *t, void *ctx) {
  int *problems = ctx;
  /* Indexes, not pointers: a handler may allocate and grow the tables. */
  for (uint32_t i = 0; i < t->live_used; i++) {
    sa_dbg_header_t *h = live_block(t, i, problems);
    if (h != NULL && !_sa_dbg_footer_check(h, NULL))
      ++*problems;
  }
  check_quarantine(t, ctx);
}

int _sa_dbg_check_heap(void) {
  int problems = 0;
  _sa_dbg_for_each_thread(check_thread, &problems);
  return problems;
}

typedef struct walk_s {
  segalloc_block_visitor_t visit;
  void *ctx;
  size_t visited;
  bool stopped;
} walk_t;

static void walk_thread(sa_dbg_thread_t *t, void *ctx) {
  walk_t *w = ctx;
  for (uint32_t i = 0; i < t->live_used && !w->stopped; i++) {
    sa_dbg_header_t *h = live_block(t, i, NULL);
    if (h != NULL) {
      w->visited++;
      const void *const *trace = _sa_dbg_stack_frames(h->alloc_stack);
      w->stopped = w->visit(sa_dbg_user(h), h->size,
                            trace != NULL ? trace[0] : NULL, w->ctx) != 0;
    }
  }
}

size_t segalloc_walk_heap(segalloc_block_visitor_t visit, void *ctx) {
  walk_t w = {.visit = visit, .ctx = ctx};
  _sa_dbg_for_each_thread(walk_thread, &w);
  return w.visited;
}

typedef struct leaks_s {
  size_t blocks, bytes;
} leaks_t;

static void leaks_thread(sa_dbg_thread_t *t, void *ctx) {
  leaks_t *leaks = ctx;
  for (uint32_t i = 0; i < t->live_used; i++) {
    sa_dbg_header_t *h = live_block(t, i, NULL);
    if (h == NULL)
      continue;
    leaks->blocks++;
    leaks->bytes += h->size;
    segalloc_error_t err = {.kind = SEGALLOC_ERR_LEAK,
                            .address = sa_dbg_user(h),
                            .block = sa_dbg_user(h),
                            .requested_size = h->size};
    _sa_dbg_report(&err, h, "%zu-byte block at %p is still allocated", h->size,
                   (void *)sa_dbg_user(h));
  }
}

size_t segalloc_leak_check(void) {
  leaks_t leaks = {0};
  _sa_dbg_for_each_thread(leaks_thread, &leaks);
  if (leaks.blocks != 0)
    _sa_message("%zu block(s) leaked, %zu bytes", leaks.blocks, leaks.bytes);
  return leaks.blocks;
}

/* Empties t's quarantine; a damaged block is counted and kept out of use
 * (released, its header could free the wrong memory). */
static void empty_quarantine(sa_dbg_thread_t *t, void *ctx) {
  int *problems = ctx;
  sa_dbg_header_t *h;
  while ((h = _sa_dbg_quarantine_oldest(t)) != NULL) {
    if (quarantined_ok(h))
      _sa_dbg_release(h);
    else
      ++*problems;
  }
}

void segalloc_flush_quarantine(void) {
  int problems = 0;
  _sa_dbg_for_each_thread(empty_quarantine, &problems);
}

int segalloc_check_now(void) {
  int problems = 0;
  _sa_dbg_for_each_thread(empty_quarantine, &problems);
  return problems + segalloc_check_heap();
}

/* At exit, after the program's own destructors (a preloaded or linked
 * library is finalised after the program): an overflow of a block never
 * freed, or a write into a block still in quarantine, would otherwise
 * never be seen; so every live block's canary and footer and every
 * quarantined block's poison are checked. Then SEGALLOC_LEAKS=1 lists
 * what is left; in abort mode leaks fail the process, like LeakSanitizer
 * (exit code 23). */
__attribute__((destructor)) static void check_at_exit(void) {
  fflush(NULL); /* the program's output first, should a report abort */
  int problems = 0;
  _sa_dbg_for_each_thread(check_thread, &problems);
  if (!_sa_dbg_options.leaks_at_exit || segalloc_leak_check() == 0)
    return;
  if (_sa_dbg_options.abort_on_error) {
    fflush(NULL);
    _exit(23);
  }
}
