/* The shadow model (the oracle): runs decoded ops against segalloc and
 * checks every result against what the C/POSIX contract promises.
 *
 * Each slot holds at most one live block. A block's bytes carry a pattern
 * derived from (table, slot, generation), verified before free/realloc and
 * at the end, so lost writes, overlapping blocks and bad copies show up as
 * pattern damage. Live blocks are also kept in an interval set to catch
 * overlaps directly. Any violation calls sf_fail(), which names the op
 * index and kind and aborts: that is the "crash" the fuzzers look for. */
#ifndef SF_MODEL_H
#define SF_MODEL_H

#include "sf_ops.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sf_block_s {
  unsigned char *p; /* NULL: slot empty */
  size_t size;      /* requested */
  size_t filled;    /* bytes carrying the pattern (>= size after USABLE) */
  uint64_t seed;    /* pattern seed */
} sf_block_t;

/* Live-block intervals shared by every table of one input (the MT target
 * shares one set between threads, guarded by `lock`). */
#define SF_MAX_TABLES 4
typedef struct sf_intervals_s {
  pthread_mutex_t *lock; /* NULL: single-threaded */
  size_t count;
  struct {
    uintptr_t lo, hi;
  } iv[SF_SLOTS * SF_MAX_TABLES];
} sf_intervals_t;

struct sf_model_s;
typedef struct sf_hooks_s {
  /* Called before reading stats: the debug build flushes its quarantine so
   * quarantined blocks are not counted as in use. May be NULL. */
  void (*before_stats)(void);
  /* Runs an SF_OP_MISUSE; NULL makes it a no-op. */
  void (*misuse)(struct sf_model_s *m, const sf_op_t *op, size_t index);
  /* 1: a malloc of n < 16 bytes may be aligned only as C23 7.24.3 asks
   * (the largest power of two <= n), as the debug build's guarded blocks
   * are; 0: production's promise of 16 is checked. */
  int small_align_by_size;
} sf_hooks_t;

typedef struct sf_model_s {
  unsigned table; /* distinguishes the tables of the MT target */
  uint64_t generation;
  sf_block_t slots[SF_SLOTS];
  sf_intervals_t *intervals;
  const sf_hooks_t *hooks;
  int exact_stats; /* single-threaded: CHECK also compares live counts */
  size_t base_blocks, base_bytes;
  int stop;         /* set by a hook to end the sequence early */
  size_t big_bytes; /* requested in blocks above 64 KiB so far (SF_BUDGET) */
} sf_model_t;

void sf_model_init(sf_model_t *m, unsigned table, sf_intervals_t *iv,
                   const sf_hooks_t *hooks);

/* Sets up the only table of a single-threaded input: its own interval set
 * `iv`, exact stats; takes the baseline. */
void sf_model_single(sf_model_t *m, sf_intervals_t *iv,
                     const sf_hooks_t *hooks);

/* Runs one op; `index` is its position in the program (for messages). */
void sf_exec(sf_model_t *m, const sf_op_t *op, size_t index);

/* Verifies the pattern of every live block of the table. */
void sf_verify_all(sf_model_t *m, size_t index);

/* Verifies and frees every live block of the table. */
void sf_free_all(sf_model_t *m, size_t index);

/* Takes the stats baseline (m->base_*). */
void sf_baseline(sf_model_t *m);

/* End-of-input checks once every table is empty: check_heap() == 0 and
 * stats back to the baseline. */
void sf_final_checks(const sf_model_t *m, size_t index);

/* Helpers for hooks (misuse target). */
void sf_forget(sf_model_t *m, unsigned slot); /* drop without freeing */
void sf_verify_block(const sf_model_t *m, unsigned slot, size_t index,
                     const char *what);

/* Prints "segalloc-fuzz: FAIL at op #index (kind): ..." and aborts. */
void sf_fail(size_t index, const char *kind, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

#endif /* SF_MODEL_H */
