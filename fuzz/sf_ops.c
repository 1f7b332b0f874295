/* Decoder for the encoding described in sf_ops.h. */
#include "sf_ops.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct reader_s {
  const uint8_t *p;
  const uint8_t *end;
  int short_read; /* set when the input ran out mid-op */
} reader_t;

static unsigned byte(reader_t *r) {
  if (r->p == r->end) {
    r->short_read = 1;
    return 0;
  }
  return *r->p++;
}

/* d % 5 - 2: a small step around a boundary, so boundary-1, boundary and
 * boundary+1 are all one byte away. */
static size_t nudge(size_t base, unsigned d) {
  long delta = (long)(d % 5) - 2;
  if (delta < 0 && base < (size_t)-delta)
    return 0;
  return base + (size_t)delta;
}

/* Sizes that no allocation can satisfy: all >= 2^47, past the user address
 * space, and several chosen to overflow the allocator's rounding. */
static size_t impossible_size(unsigned low, size_t page) {
  size_t k = low >> 3;
  switch (low & 7) {
  case 0:
    return SIZE_MAX - k;
  case 1:
    return SIZE_MAX - (k + 1) * page + 1; /* rounding to a page overflows */
  case 2:
    return SIZE_MAX / 2 + 1 + k; /* PTRDIFF_MAX + 1 + k */
  case 3:
    return SIZE_MAX / 2 - k; /* PTRDIFF_MAX - k */
  case 4:
    return ((size_t)1 << 47) + k;
  case 5:
    return (size_t)1 << (48 + k);
  case 6:
    return SIZE_MAX - ((size_t)1 << (20 + 4 * k)); /* + alignment overflows */
  default:
    return SIZE_MAX - 16 * k - 15; /* rounding to 16 overflows */
  }
}

static size_t read_size(reader_t *r, int *must_fail) {
  const sf_sizes_t *sz = sf_sizes();
  unsigned s = byte(r);
  unsigned low = s & 31;
  *must_fail = 0;
  switch (s >> 5) {
  case 0:
  case 1:
    return s & 63;
  case 2: {
    /* d / 5 extends the 5-bit index: there are more than 32 classes. */
    unsigned d = byte(r);
    return nudge(sz->bounds[(low + 32 * (d / 5)) % sz->nbounds], d);
  }
  case 3: {
    size_t v = byte(r);
    return v | (size_t)byte(r) << 8;
  }
  case 4: {
    size_t v = byte(r);
    v |= (size_t)byte(r) << 8;
    v |= (size_t)byte(r) << 16;
    return v & 0x3fffff;
  }
  case 5: {
    /* Interesting sizes that are not class boundaries. */
    const size_t special[] = {
        sz->page,          2 * sz->page,    16 * sz->page,   sz->threshold,
        2 * sz->threshold, (size_t)1 << 16, (size_t)1 << 17, (size_t)1 << 20,
        (size_t)1 << 21,   (size_t)1 << 22, 3 * sz->page,    (size_t)1 << 12,
    };
    size_t n = sizeof special / sizeof special[0];
    return nudge(special[low % n], byte(r));
  }
  case 6:
    *must_fail = 1;
    return impossible_size(low, sz->page);
  default: /* the first huge sizes and the last class sizes */
    return sz->threshold < 16 ? low : sz->threshold + low - 16;
  }
}

static size_t read_count(reader_t *r, size_t size) {
  unsigned c = byte(r);
  if (c == 0xff)
    return SIZE_MAX;
  if (c == 0xfe)
    return size == 0 ? SIZE_MAX : SIZE_MAX / size + 1;
  return c % 17;
}

static size_t read_align(reader_t *r) {
  unsigned a = byte(r);
  unsigned shift = a & 31;
  if (!(a & 0x80))
    return (size_t)1 << shift;
  switch ((a >> 5) & 3) {
  case 0:
    return 0;
  case 1:
    return (size_t)3 << shift;
  case 2:
    return (size_t)1 << (32 + shift);
  default:
    return shift < 2 ? 0 : ((size_t)1 << shift) - 1;
  }
}

void sf_decode(const uint8_t *data, size_t size, sf_program_t *out) {
  reader_t r = {data, data + size, 0};
  out->count = 0;
  out->threads = 2 + byte(&r) % 3;
  while (r.p < r.end && out->count < SF_MAX_OPS) {
    sf_op_t op;
    memset(&op, 0, sizeof op);
    unsigned code = byte(&r);
    op.kind = (sf_op_kind_t)((code & 15) % SF_OP_COUNT);
    op.variant = code >> 4;
    switch (op.kind) {
    case SF_OP_MALLOC:
    case SF_OP_REALLOC:
      op.slot = byte(&r) % SF_SLOTS;
      op.size = read_size(&r, &op.must_fail);
      break;
    case SF_OP_CALLOC:
    case SF_OP_REALLOCARRAY: {
      op.slot = byte(&r) % SF_SLOTS;
      /* The count byte comes first in the input but depends on the size
       * (0xfe means "just overflows"), so decode it afterwards. */
      const uint8_t *count_at = r.p;
      byte(&r);
      op.size = read_size(&r, &op.must_fail);
      reader_t cr = {count_at, r.end, 0};
      op.count = read_count(&cr, op.size);
      break;
    }
    case SF_OP_FREE:
    case SF_OP_USABLE:
      op.slot = byte(&r) % SF_SLOTS;
      break;
    case SF_OP_ALIGNED:
      op.slot = byte(&r) % SF_SLOTS;
      op.align = read_align(&r);
      op.size = read_size(&r, &op.must_fail);
      break;
    case SF_OP_MISUSE:
      op.slot = byte(&r) % SF_SLOTS;
      op.arg = byte(&r);
      op.arg |= byte(&r) << 8;
      break;
    default: /* SF_OP_CHECK: no arguments */
      break;
    }
    if (r.short_read)
      break;
    out->ops[out->count++] = op;
  }
}

sf_program_t *sf_decode_new(const uint8_t *data, size_t size) {
  sf_program_t *prog = malloc(sizeof *prog);
  if (prog != NULL)
    sf_decode(data, size, prog);
  return prog;
}

/* Every target links this file: libFuzzer, AFL++'s driver and
 * replay_main.c call it once before the first input. Measuring the classes
 * here keeps that cost (about 2 s in the debug build, which junk-fills
 * every probe block) out of the first input and out of each forked replay. */
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  sf_sizes();
  return 0;
}

const char *sf_op_name(const sf_op_t *op) {
  static const char *const names[SF_OP_COUNT] = {
      "malloc", "calloc", "realloc",      "free",   "aligned",
      "usable", "check",  "reallocarray", "misuse",
  };
  static const char *const aligned[SF_AL_COUNT] = {
      "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
  };
  if (op->kind == SF_OP_ALIGNED)
    return aligned[op->variant % SF_AL_COUNT];
  return names[op->kind];
}
