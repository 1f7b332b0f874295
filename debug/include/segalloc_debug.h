/* segalloc debug build: the API a test suite or fuzz harness uses on top of
 * segalloc.h. Only the debug library (//debug:segalloc_debug) defines these. */
#ifndef SEGALLOC_DEBUG_H
#define SEGALLOC_DEBUG_H

#include "segalloc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every kind of heap error the debug build reports. The report's first line
 * is "segalloc: ERROR: <name> on address 0x..." with the name below. */
typedef enum segalloc_error_kind_e {
  SEGALLOC_ERR_DOUBLE_FREE,              /* "double-free" */
  SEGALLOC_ERR_INVALID_FREE,             /* "invalid-free" */
  SEGALLOC_ERR_HEAP_BUFFER_OVERFLOW,     /* "heap-buffer-overflow" */
  SEGALLOC_ERR_HEAP_BUFFER_UNDERFLOW,    /* "heap-buffer-underflow" */
  SEGALLOC_ERR_USE_AFTER_FREE,           /* "use-after-free" */
  SEGALLOC_ERR_HEAP_CORRUPTION,          /* "heap-corruption" */
  SEGALLOC_ERR_LEAK,                     /* "leak" */
  SEGALLOC_ERR_ALLOC_DEALLOC_MISMATCH,   /* "alloc-dealloc-mismatch": e.g.
                                            delete of new[], free of new */
  SEGALLOC_ERR_NEW_DELETE_SIZE_MISMATCH, /* "new-delete-size-mismatch":
                                            sized delete, wrong size */
  SEGALLOC_ERR_KIND_COUNT
} segalloc_error_kind_t;

/* What an error handler is told. */
typedef struct segalloc_error_s {
  segalloc_error_kind_t kind;
  const void *address;   /* the pointer the program passed, or the damage */
  const void *block;     /* start of the user block, NULL if none */
  size_t requested_size; /* the block's requested size, 0 if unknown */
  size_t damaged_offset; /* first damaged byte, relative to block */
  size_t damaged_bytes;  /* how many bytes differ from the expected value */
} segalloc_error_t;

typedef void (*segalloc_error_handler_t)(const segalloc_error_t *err,
                                         void *ctx);

/* The name used in reports ("double-free", ...). */
SEGALLOC_API const char *segalloc_error_kind_name(segalloc_error_kind_t kind);

/* Replaces the default action (print the report, then abort or continue as
 * SEGALLOC_ON_ERROR says) by a call to `handler`; NULL restores it. The
 * allocator then continues where it safely can (the bad block is not
 * reused). Returns the previous handler. */
SEGALLOC_API segalloc_error_handler_t
segalloc_set_error_handler(segalloc_error_handler_t h, void *ctx);

/* Errors reported since start (also those a handler received). */
SEGALLOC_API size_t segalloc_error_count(void);

/* Visits every live block: user pointer, requested size, allocation site
 * (the return address of the allocating call). Stops early when the
 * callback returns non-zero; returns the number of blocks visited. It
 * walks one thread's blocks at a time: a block live throughout is visited
 * once; one that other threads allocate or free meanwhile may or may not
 * be. */
typedef int (*segalloc_block_visitor_t)(void *ptr, size_t size,
                                        const void *alloc_site, void *ctx);
SEGALLOC_API size_t segalloc_walk_heap(segalloc_block_visitor_t visit,
                                       void *ctx);

/* Reports every live block as a "leak" (with its allocation backtrace) and
 * returns how many there are. SEGALLOC_LEAKS=1 runs it at exit. */
SEGALLOC_API size_t segalloc_leak_check(void);

/* Empties the quarantine (verifying the poison of each block). */
SEGALLOC_API void segalloc_flush_quarantine(void);

/* The per-input check of a fuzz target (libFuzzer, AFL++ persistent mode)
 * or a test: called after each input, it blames damage on the input that
 * made it, not on one that runs later. Empties the quarantine, verifying
 * each block's poison once (a block written after free is reported once
 * and kept out of use), then runs segalloc_check_heap() (every live
 * block's header and footer, the core's metadata). Each problem is
 * reported as usual (by default, SEGALLOC_ON_ERROR=abort, the first one
 * aborts); returns their number. */
SEGALLOC_API int segalloc_check_now(void);

#ifdef __cplusplus
}
#endif
#endif /* SEGALLOC_DEBUG_H */
