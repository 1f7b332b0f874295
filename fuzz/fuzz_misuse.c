/* Target 3: misuse detection of the debug build.
 *
 * The ops run as in fuzz_debug.c until the first MISUSE op that finds a
 * live block in its slot. That op commits one heap error on the block
 * (or on a new guarded block of its size: fuzz/README.md lists them all),
 * makes the debug build look (free, then flush the quarantine), and checks
 * that the first report names exactly that kind of error. Nothing else runs
 * afterwards: the remaining blocks are freed and the handler restored.
 *
 * Findings: a report before the misuse (false positive), no report after
 * it (missed error), or a report of the wrong kind or block. */
#include "sf_debug.h"

/* The debug build's internals: forcing a guard on one block, the guard
 * run's bounds, operator new and delete as cxx.cc calls them (cxx.cc is
 * C++, the drop-ins' only), and the range check behind the checked
 * memcpy/memset (checked.c, which exports memcpy itself and so stays out
 * of fuzz builds: it would replace the sanitizer's). */
#include "debug.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* How far past either end a bad write may land. Small: the debug build
 * can only promise to catch writes that stay within its redzones, and a
 * write past them lands in a neighbouring block (that would be a harness
 * bug, not a missed report). */
#define SF_MAX_REACH 8

/* The debug build's default quarantine per thread (SEGALLOC_QUARANTINE_BYTES),
 * less a page for its headers. It promises to catch a use after free or a
 * second free only while the block is quarantined, and a bigger block
 * leaves the quarantine as soon as it enters: its memory may be reused or
 * unmapped at once. */
#define SF_QUARANTINE (((size_t)4 << 20) - 4096)

/* A new block of `size` bytes with a guard page, whatever SEGALLOC_GUARD
 * says (one allocation with guard_every = 1); NULL when the debug build
 * gives it canaries instead (too large, pool full, kernel limits). */
static unsigned char *guarded_block(size_t size) {
  uint32_t every = _sa_dbg_options.guard_every;
  _sa_dbg_options.guard_every = 1;
  unsigned char *p = segalloc_malloc(size);
  _sa_dbg_options.guard_every = every;
  if (p != NULL && !sa_dbg_in_guard_pool(p)) {
    segalloc_free(p);
    p = NULL;
  }
  return p;
}

/* A read or write of one byte that the compiler must make. */
static void touch(unsigned char *p, int write) {
  if (write)
    *(volatile unsigned char *)p ^= 0xff;
  else
    (void)*(volatile unsigned char *)p;
}

typedef struct misuse_ctx_s {
  sf_reports_t reports;
  int injected;
} misuse_ctx_t;

/* The hook gets the model but not our context; one input runs at a time on
 * one thread, and LLVMFuzzerTestOneInput resets this at the start. */
static misuse_ctx_t *current;

/* `also`: a second kind that is right too (SEGALLOC_ERR_KIND_COUNT:
 * none). */
static void expect(const sf_reports_t *r, segalloc_error_kind_t want,
                   segalloc_error_kind_t also, const void *block, size_t index,
                   const char *what) {
  if (r->count == 0)
    sf_fail(index, what, "missed: no report, want %s",
            segalloc_error_kind_name(want));
  if (r->first.kind != want && r->first.kind != also)
    sf_fail(index, what, "first report is %s at %p, want %s",
            segalloc_error_kind_name(r->first.kind), r->first.address,
            segalloc_error_kind_name(want));
  if (block != NULL && r->first.block != NULL && r->first.block != block)
    sf_fail(index, what, "%s reported on block %p, the misused one is %p",
            segalloc_error_kind_name(r->first.kind), r->first.block, block);
}

static void misuse(sf_model_t *m, const sf_op_t *op, size_t index) {
  sf_block_t *b = &m->slots[op->slot];
  if (current->injected || b->p == NULL)
    return; /* one misuse per input, and only on a live block */
  unsigned char *p = b->p;
  size_t size = b->size;
  size_t reach = 1 + op->arg % SF_MAX_REACH;
  segalloc_error_kind_t want, also = SEGALLOC_ERR_KIND_COUNT;
  const char *what;
  unsigned char stack_buf[64];
  unsigned char *undo = NULL; /* the byte to flip back after the report */
  unsigned char *at = NULL;   /* the one byte touched, if it must be named */

  sf_verify_block(m, op->slot, index, "misuse");
  switch ((sf_misuse_t)(op->variant % SF_MISUSE_COUNT)) {
  case SF_MISUSE_OVERFLOW:
    /* `reach` bytes past the end of what the allocator says is usable. */
    what = "overflow";
    want = SEGALLOC_ERR_HEAP_BUFFER_OVERFLOW;
    p[segalloc_usable_size(p) + reach - 1] ^= 0xff;
    sf_forget(m, op->slot);
    segalloc_free(p);
    break;
  case SF_MISUSE_UNDERFLOW:
    what = "underflow";
    want = SEGALLOC_ERR_HEAP_BUFFER_UNDERFLOW;
    p[-(ptrdiff_t)reach] ^= 0xff;
    /* The debug build keeps a block with a damaged header out of use for
     * good and reports it again at every check_heap: repair the header once
     * the report is in, or every later input in this process would fail. */
    undo = p - reach;
    sf_forget(m, op->slot);
    segalloc_free(p);
    break;
  case SF_MISUSE_DOUBLE_FREE:
    what = "double free";
    want = SEGALLOC_ERR_DOUBLE_FREE;
    /* Not quarantined: the block is gone, and the second free is of a
     * pointer that is no block. */
    if (size > SF_QUARANTINE)
      also = SEGALLOC_ERR_INVALID_FREE;
    sf_forget(m, op->slot);
    segalloc_free(p);
    segalloc_free(p);
    break;
  case SF_MISUSE_INTERIOR_FREE:
    /* Somewhere inside (or just past) the block; the block stays live. */
    what = "interior free";
    want = SEGALLOC_ERR_INVALID_FREE;
    segalloc_free(p + 1 + op->arg % (size > 1 ? size - 1 : 1));
    break;
  case SF_MISUSE_INVALID_FREE:
    what = "invalid free";
    want = SEGALLOC_ERR_INVALID_FREE;
    segalloc_free(stack_buf + 16 * (op->arg % 4));
    p = NULL; /* no block to name */
    break;
  case SF_MISUSE_WRITE_AFTER_FREE: {
    if (size == 0 || size > SF_QUARANTINE)
      return; /* nothing to write to, or no promise: not injected */
    /* Any byte the poison covers: the whole block, or within
     * SA_DBG_FILL_EDGE of either end of a big one. Bit 0 picks the end,
     * so arg 1 is the last byte. */
    size_t edge = size <= 2 * SA_DBG_FILL_EDGE ? size : SA_DBG_FILL_EDGE;
    size_t d = (op->arg >> 1) % edge;
    what = "write after free";
    want = SEGALLOC_ERR_USE_AFTER_FREE;
    sf_forget(m, op->slot);
    segalloc_free(p);
    at = p + (op->arg & 1 ? size - 1 - d : d);
    *at ^= 0xff;
    break;
  }
  case SF_MISUSE_GUARD_OVERFLOW: {
    /* A read or write (bit 0) at any distance past the requested end of a
     * guarded block: its footer (slack up to the page end; writes only, a
     * read there is not seen) or the first half of its guard page (past
     * that, the next run's block may be the nearer one and is blamed). */
    p = guarded_block(size);
    if (p == NULL)
      return;
    int write = op->arg & 1;
    size_t footer =
        (size_t)(_sa_dbg_guard_end(_sa_dbg_guard_header_of(p)) - (p + size));
    size_t past = (op->arg >> 1) % (footer + sf_sizes()->page / 2 - 16);
    if (!write && past < footer)
      past += footer;
    what = write ? "guard overflow write" : "guard overflow read";
    want = SEGALLOC_ERR_HEAP_BUFFER_OVERFLOW;
    at = p + size + past;
    touch(at, write); /* a fault, or footer damage at free */
    segalloc_free(p);
    break;
  }
  case SF_MISUSE_GUARD_AFTER_FREE: {
    /* A read or write (bit 0) of any byte of a freed guarded block; a
     * zero-size block has one byte to miss, its start. */
    p = guarded_block(size);
    if (p == NULL)
      return;
    int write = op->arg & 1;
    what = write ? "guard write after free" : "guard read after free";
    want = SEGALLOC_ERR_USE_AFTER_FREE;
    segalloc_free(p);
    at = p + (op->arg >> 1) % (size ? size : 1);
    touch(at, write);
    break;
  }
  case SF_MISUSE_KIND_MISMATCH: {
    /* What cxx.cc's operators call: a new block of the slot's size from
     * operator new (new[] if bit 0), then (bits 1-2) free, the other
     * delete, realloc, or the right sized delete with a wrong size. */
    int array = op->arg & 1;
    p = _sa_dbg_new(size, 0, array, __builtin_frame_address(0));
    if (p == NULL)
      return;
    what = "kind mismatch";
    want = SEGALLOC_ERR_ALLOC_DEALLOC_MISMATCH;
    switch ((op->arg >> 1) & 3) {
    case 0:
      segalloc_free(p);
      break;
    case 1:
      _sa_dbg_delete(p, !array, SA_DBG_UNSIZED, __builtin_frame_address(0));
      break;
    case 2:
      segalloc_free(segalloc_realloc(p, size + 1));
      break;
    default:
      what = "sized delete mismatch";
      want = SEGALLOC_ERR_NEW_DELETE_SIZE_MISMATCH;
      _sa_dbg_delete(p, array, size + 1 + (op->arg >> 3) % 64,
                     __builtin_frame_address(0));
      break;
    }
    break;
  }
  default: { /* SF_MISUSE_RANGE */
    /* What the checked memcpy/memset (checked.c) ask before touching a
     * byte: a range (read or write, bit 0) that runs 1-64 bytes past the
     * end, starts 1-8 bytes before the start, or lies in the freed block
     * (bits 1-2). */
    int write = op->arg & 1;
    const char *fn = write ? "memset" : "memcpy";
    unsigned from = op->arg >> 3;
    switch ((op->arg >> 1) & 3) {
    case 0: {
      what = "range overflow";
      want = SEGALLOC_ERR_HEAP_BUFFER_OVERFLOW;
      size_t off = from % (size + 1);
      _sa_dbg_check_range(p + off, size - off + 1 + (from >> 4) % 64, write, fn,
                          __builtin_frame_address(0));
      break;
    }
    case 1:
      what = "range underflow";
      want = SEGALLOC_ERR_HEAP_BUFFER_UNDERFLOW;
      _sa_dbg_check_range(p - 1 - from % 8, 1 + from % 8 + size, write, fn,
                          __builtin_frame_address(0));
      break;
    default:
      if (size == 0 || size > SF_QUARANTINE)
        return;
      what = "range after free";
      want = SEGALLOC_ERR_USE_AFTER_FREE;
      sf_forget(m, op->slot);
      segalloc_free(p);
      size_t off = from % size;
      _sa_dbg_check_range(p + off, 1 + (from >> 4) % (size - off), write, fn,
                          __builtin_frame_address(0));
      break;
    }
    break;
  }
  }
  /* The debug build may check at free or when the block leaves the
   * quarantine; give it both chances. */
  segalloc_flush_quarantine();
  current->injected = 1;
  expect(&current->reports, want, also, p, index, what);
  if (at != NULL && current->reports.first.address != at)
    sf_fail(index, what, "%s reported at %p, the byte touched is %p",
            segalloc_error_kind_name(current->reports.first.kind),
            current->reports.first.address, (void *)at);
  if (undo != NULL)
    *undo ^= 0xff;
  m->stop = 1;
}

static const sf_hooks_t misuse_hooks = {
    .before_stats = segalloc_flush_quarantine,
    .misuse = misuse,
    .small_align_by_size = 1,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sf_program_t *prog = sf_decode_new(data, size);
  misuse_ctx_t *ctx = calloc(1, sizeof *ctx);
  if (prog == NULL || ctx == NULL) {
    free(prog);
    free(ctx);
    return 0;
  }
  current = ctx;
  sf_capture_start(&ctx->reports);
  sf_intervals_t iv;
  sf_model_t m;
  sf_model_single(&m, &iv, &misuse_hooks);
  size_t i = 0;
  for (; i < prog->count && !m.stop; i++) {
    sf_exec(&m, &prog->ops[i], i);
    if (!ctx->injected)
      sf_expect_no_report(&ctx->reports, i, sf_op_name(&prog->ops[i]));
  }
  if (ctx->injected) {
    /* The heap saw an error on purpose: free what is left, skip the
     * invariant checks (the misused block is legitimately out of use). */
    sf_free_all(&m, i);
  } else {
    sf_verify_all(&m, i);
    sf_free_all(&m, i);
    sf_final_checks(&m, i);
    sf_expect_no_report(&ctx->reports, i, "final check");
  }
  sf_capture_stop();
  current = NULL;
  free(ctx);
  free(prog);
  return 0;
}
