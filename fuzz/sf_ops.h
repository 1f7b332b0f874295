/* The fuzz input encoding: bytes -> a list of allocator operations.
 *
 * Every byte string decodes to something (no input is rejected), so the
 * fuzzer never wastes executions on parse errors. Layout:
 *
 *   input   := config op*
 *   config  := 1 byte; bits 0-1: extra threads for the MT target (2 + n%3),
 *              ignored by the other targets
 *   op      := opcode args      opcode: low nibble % SF_OP_COUNT = kind,
 *                               high nibble = variant
 *   MALLOC        slot size
 *   CALLOC        slot count size
 *   REALLOC       slot size           (empty slot: realloc(NULL, size))
 *   FREE          slot
 *   ALIGNED       slot align size     variant % 5: posix_memalign,
 *                                     aligned_alloc, memalign, valloc, pvalloc
 *   USABLE        slot                usable_size, then fill the slack
 *   CHECK                             segalloc_check_heap + stats
 *   REALLOCARRAY  slot count size
 *   MISUSE        slot arg            variant % SF_MISUSE_COUNT (misuse
 *                                     target only; a no-op elsewhere)
 *
 *   arg   := 2 bytes, little endian (what the misuse targets)
 *   slot  := 1 byte % SF_SLOTS
 *   count := 1 byte: 0xff -> SIZE_MAX, 0xfe -> just overflows count*size,
 *            else byte % 17
 *   align := 1 byte: bits 0-4 = shift; bit 7 clear -> 1 << shift (valid);
 *            bit 7 set -> invalid, bits 5-6 pick: 0 -> 0, 1 -> 3 << shift,
 *            2 -> 1 << (32 + shift) (too large), 3 -> (1 << shift) - 1
 *   size  := 1 byte s, mode = s >> 5, low = s & 31, then:
 *     0,1: s & 63                          tiny
 *     2:   +1 byte d: class boundary[low + 32 * (d/5)] + d%5 - 2
 *     3:   +2 bytes: 16-bit little endian  small/medium
 *     4:   +3 bytes: 22-bit little endian  up to 4 MiB
 *     5:   +1 byte d: special[low] + d%5 - 2  (page, threshold, segment...)
 *     6:   impossible (>= 2^47), must fail with ENOMEM; low picks which
 *     7:   large threshold + low - 16
 *
 * A truncated op is dropped. Class boundaries and the large threshold are
 * measured from segalloc_usable_size (sf_sizes.c), never hard-coded, so the
 * encoding follows the allocator's table. gen_corpus.py mirrors this file. */
#ifndef SF_OPS_H
#define SF_OPS_H

#include <stddef.h>
#include <stdint.h>

#define SF_SLOTS 32
#define SF_MAX_OPS 4096 /* longer inputs are cut: keeps each run short */

typedef enum sf_op_kind_e {
  SF_OP_MALLOC,
  SF_OP_CALLOC,
  SF_OP_REALLOC,
  SF_OP_FREE,
  SF_OP_ALIGNED,
  SF_OP_USABLE,
  SF_OP_CHECK,
  SF_OP_REALLOCARRAY,
  SF_OP_MISUSE,
  SF_OP_COUNT
} sf_op_kind_t;

typedef enum sf_aligned_fn_e {
  SF_AL_POSIX_MEMALIGN,
  SF_AL_ALIGNED_ALLOC,
  SF_AL_MEMALIGN,
  SF_AL_VALLOC,
  SF_AL_PVALLOC,
  SF_AL_COUNT
} sf_aligned_fn_t;

typedef enum sf_misuse_e {
  SF_MISUSE_OVERFLOW,         /* write k bytes past the usable end, free */
  SF_MISUSE_UNDERFLOW,        /* write k bytes before the start, free */
  SF_MISUSE_DOUBLE_FREE,      /* free twice */
  SF_MISUSE_INTERIOR_FREE,    /* free(p + off) */
  SF_MISUSE_INVALID_FREE,     /* free of memory that is not the heap's */
  SF_MISUSE_WRITE_AFTER_FREE, /* free, write, flush the quarantine */
  SF_MISUSE_GUARD_OVERFLOW,   /* guarded block: access past its end */
  SF_MISUSE_GUARD_AFTER_FREE, /* guarded block: access after free */
  SF_MISUSE_RANGE,            /* memcpy/memset range check out of a block */
  SF_MISUSE_KIND_MISMATCH,    /* operator new'd block freed the wrong way */
  SF_MISUSE_COUNT
} sf_misuse_t;

typedef struct sf_op_s {
  sf_op_kind_t kind;
  unsigned variant; /* high nibble of the opcode byte */
  unsigned slot;
  size_t size;
  size_t count;  /* CALLOC, REALLOCARRAY */
  size_t align;  /* ALIGNED */
  unsigned arg;  /* MISUSE: 16 bits */
  int must_fail; /* size was drawn from the impossible range */
} sf_op_t;

typedef struct sf_program_s {
  unsigned threads; /* MT target: 2..4 */
  size_t count;
  sf_op_t ops[SF_MAX_OPS];
} sf_program_t;

/* Decodes `data`; never fails. */
void sf_decode(const uint8_t *data, size_t size, sf_program_t *out);

/* The same into a new program on the heap (free() it): not static, so no
 * state survives from one input to the next. NULL when out of memory. */
sf_program_t *sf_decode_new(const uint8_t *data, size_t size);

const char *sf_op_name(const sf_op_t *op);

/* The engines' optional start-up hook: measures the sizes (below). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Sizes measured from the allocator (sf_sizes.c). Computed once, on first
 * use, before any input's baseline is taken; they depend only on the
 * allocator, so no state leaks from one input into the next. */
typedef struct sf_sizes_s {
  size_t page;      /* OS page */
  size_t threshold; /* largest size served from size classes */
  size_t nbounds;   /* class boundaries (largest size of each class) */
  size_t bounds[128];
} sf_sizes_t;

const sf_sizes_t *sf_sizes(void);

#endif /* SF_OPS_H */
