/* Error reports: what went wrong, on which block, where the block was
 * allocated and freed (their backtraces, taken by stack.c), and where it
 * was found; then abort, continue, or the error handler instead. Nothing
 * here allocates: it runs inside malloc, with the heap possibly damaged. */
#include "debug.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static _Atomic size_t sa_dbg_errors;
static _Atomic(segalloc_error_handler_t) sa_dbg_handler;
static void *_Atomic sa_dbg_handler_ctx;

/* ---- backtraces ---- */

/* One line per frame: function+offset when the symbol is exported, else
 * module+offset (for addr2line -e module offset). */
static void print_trace(const char *title, uint32_t tid,
                        const void *const *trace, size_t depth) {
  if (trace == NULL || trace[0] == NULL)
    return;
  _sa_message("%s by thread %u at:", title, tid);
  for (size_t i = 0; i < depth && trace[i] != NULL; i++) {
    Dl_info info;
    const char *pc = trace[i];
    if (dladdr(pc, &info) == 0 || info.dli_fname == NULL)
      _sa_message("    #%zu %p", i, (const void *)pc);
    else if (info.dli_sname != NULL)
      _sa_message("    #%zu %p in %s+0x%tx (%s)", i, (const void *)pc,
                  info.dli_sname, pc - (const char *)info.dli_saddr,
                  info.dli_fname);
    else
      _sa_message("    #%zu %p (%s+0x%tx)", i, (const void *)pc, info.dli_fname,
                  pc - (const char *)info.dli_fbase);
  }
}

/* ---- reports ---- */

const char *segalloc_error_kind_name(segalloc_error_kind_t kind) {
  return sa_error_name((sa_error_kind_t)kind);
}

segalloc_error_handler_t segalloc_set_error_handler(segalloc_error_handler_t h,
                                                    void *ctx) {
  atomic_store(&sa_dbg_handler_ctx, ctx);
  return atomic_exchange(&sa_dbg_handler, h);
}

size_t segalloc_error_count(void) {
  return atomic_load(&sa_dbg_errors);
}

/* The report: its first line, the detail, then the backtraces: of the
 * faulting access if there is one, of the block, and (but for leaks) of
 * the call that found the error, from `frame`, when no access is given. */
static void report(const void *frame, const segalloc_error_t *err,
                   const sa_dbg_header_t *h, const void *const *access,
                   const char *detail, va_list args) {
  atomic_fetch_add(&sa_dbg_errors, 1);
  segalloc_error_handler_t handler = atomic_load(&sa_dbg_handler);
  if (handler != NULL) {
    handler(err, atomic_load(&sa_dbg_handler_ctx));
    return;
  }
  char text[400];
  vsnprintf(text, sizeof(text), detail, args);
  uint32_t tid = (uint32_t)gettid();
  _sa_message("ERROR: %s on address %p", segalloc_error_kind_name(err->kind),
              err->address);
  _sa_message("%s", text);
  if (access != NULL)
    print_trace("accessed", tid, access, SA_DBG_REPORT_DEPTH);
  if (h != NULL) {
    /* A released block's first word belongs to the core again. */
    if (h->state != SA_DBG_RELEASED || h->offset != SA_DBG_HEADER_SIZE)
      print_trace("allocated", h->alloc_tid,
                  _sa_dbg_stack_frames(h->alloc_stack), SA_DBG_TRACE_DEPTH);
    if (h->state != SA_DBG_LIVE)
      print_trace("freed", h->free_tid, _sa_dbg_stack_frames(h->free_stack),
                  SA_DBG_FREE_DEPTH);
  }
  if (err->kind == SEGALLOC_ERR_LEAK)
    return;
  if (access == NULL) {
    const void *here[SA_DBG_REPORT_DEPTH];
    _sa_dbg_backtrace(here, SA_DBG_REPORT_DEPTH, frame);
    print_trace("found", tid, here, SA_DBG_REPORT_DEPTH);
  }
  if (_sa_dbg_options.abort_on_error) {
    _sa_message("aborting (SEGALLOC_ON_ERROR=report would continue)");
    abort();
  }
}

void _sa_dbg_report(const segalloc_error_t *err, const sa_dbg_header_t *h,
                    const char *detail, ...) {
  va_list args;
  va_start(args, detail);
  report(__builtin_frame_address(0), err, h, NULL, detail, args);
  va_end(args);
}

void _sa_dbg_report_from(const void *frame, const segalloc_error_t *err,
                         const sa_dbg_header_t *h, const char *detail, ...) {
  va_list args;
  va_start(args, detail);
  report(frame, err, h, NULL, detail, args);
  va_end(args);
}

void _sa_dbg_report_access(const segalloc_error_t *err,
                           const sa_dbg_header_t *h, const void *const *access,
                           const char *detail, ...) {
  va_list args;
  va_start(args, detail);
  report(NULL, err, h, access, detail, args);
  va_end(args);
}

/* Errors the core finds itself (e.g. in its free lists). */
void _sa_error(sa_error_kind_t kind, const void *addr, const char *detail) {
  segalloc_error_t err = {.kind = (segalloc_error_kind_t)kind, .address = addr};
  _sa_dbg_report(&err, NULL, "%s (found by the core allocator)", detail);
}
