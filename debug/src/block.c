/* The debug block layout (debug.h): the header's seal and canary, the footer,
 * the poison of freed bytes, and what a pointer handed to free really is. */
#include "debug.h"

#include <stddef.h>
#include <string.h>

/* A 64-bit finaliser (splitmix64): every input bit changes half the
 * output bits. */
static inline uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

sa_dbg_keys_t _sa_dbg_keys;

void _sa_dbg_keys_init(uint64_t secret) {
  uint64_t *keys = (uint64_t *)&_sa_dbg_keys;
  for (size_t i = 0; i < sizeof(_sa_dbg_keys) / sizeof(*keys); i++)
    keys[i] = mix(secret + 0x9e3779b97f4a7c15ULL * (i + 1)) | 1;
}

void _sa_dbg_seal(sa_dbg_header_t *h) {
  h->seal = sa_dbg_seal_of(h);
}

bool _sa_dbg_header_ok(const sa_dbg_header_t *h) {
  return sa_dbg_header_ok(h);
}

/* The guard byte of a block: never 0 or 0xff (the values most often
 * written past an end), never the poison; keyed, so it varies by block:
 * 0x80-0xbf, the top bits of its address times an odd key (one multiply:
 * every malloc and free computes it). */
static uint8_t footer_byte(const sa_dbg_header_t *h) {
  return (uint8_t)(0x80 | ((uintptr_t)h * (_sa_dbg_options.secret | 1)) >> 58);
}

static uint64_t lead_tag(const uint8_t *base, size_t offset) {
  return mix(_sa_dbg_options.secret ^ (uintptr_t)base ^ mix(offset));
}

/* Where the user bytes of the core block at `base` begin. */
static uint8_t *user_of_block(uint8_t *base, size_t block_size) {
  const sa_dbg_lead_t *lead = (const sa_dbg_lead_t *)base;
  if (block_size >= sizeof(*lead) &&
      lead->tag == lead_tag(base, lead->offset) && lead->offset < block_size)
    return base + lead->offset;
  return base + SA_DBG_HEADER_SIZE;
}

sa_dbg_header_t *_sa_dbg_header_of(const void *p) {
  if (sa_dbg_in_guard_pool(p))
    return _sa_dbg_guard_header_of(p);
  size_t block_size;
  uint8_t *base = _sa_block_start(p, &block_size);
  if (base == NULL)
    return NULL;
  sa_dbg_header_t *h = (sa_dbg_header_t *)user_of_block(base, block_size) - 1;
  return _sa_dbg_header_ok(h) ? h : NULL;
}

/* The `edge`-byte edges of h's user bytes: [0, *head) and
 * [*tail, h->size), with *head <= *tail (equal when the two cover the
 * whole block). */
static void edges_of(const sa_dbg_header_t *h, size_t edge, size_t *head,
                     size_t *tail) {
  size_t size = h->size;
  *head = size < edge ? size : edge;
  *tail = size - *head > *head ? size - *head : *head;
}

/* 16 bytes set or compared at once: a vector type of the compilers (an
 * SSE2 register on x86-64), stored and loaded unaligned. */
typedef uint64_t sa_dbg_v2_t __attribute__((vector_size(16)));
static inline sa_dbg_v2_t load16(const uint8_t *p) {
  sa_dbg_v2_t v;
  memcpy(&v, p, sizeof(v));
  return v;
}

/* Sets the len <= 64 bytes at p to `byte`: a few overlapping stores. */
static void fill_short(uint8_t *p, uint8_t byte, size_t len) {
  const uint64_t pattern = 0x0101010101010101ULL * byte;
  const sa_dbg_v2_t pat = {pattern, pattern};
  if (len >= 16) {
    memcpy(p, &pat, 16);
    memcpy(p + len - 16, &pat, 16);
    if (len > 32) {
      memcpy(p + 16, &pat, 16);
      memcpy(p + len - 32, &pat, 16);
    }
  } else if (len >= 8) {
    memcpy(p, &pattern, 8);
    memcpy(p + len - 8, &pattern, 8);
  } else if (len >= 4) {
    memcpy(p, &pattern, 4);
    memcpy(p + len - 4, &pattern, 4);
  } else if (len > 0) {
    p[0] = p[len / 2] = p[len - 1] = byte;
  }
}

/* Sets the len bytes at p to `byte`: a short run by a few stores, a
 * longer one by libc's memset, called by name (the compiler expands a
 * memset of a bounded length into a slow-starting `rep stos`). */
static void fill(uint8_t *p, uint8_t byte, size_t len) {
  if (len <= 64)
    fill_short(p, byte, len);
  else
    _sa_dbg_memset(p, byte, len);
}

/* Fills the user bytes [from, to) of h that lie within `edge` bytes of
 * either end of its h->size bytes with `byte`. */
static void fill_edges(const sa_dbg_header_t *h, size_t edge, size_t from,
                       size_t to, uint8_t byte) {
  uint8_t *user = sa_dbg_user(h);
  size_t head, tail;
  edges_of(h, edge, &head, &tail);
  if (tail == head) /* the edges meet: one range */
    head = tail = to;
  if (from < head)
    fill(user + from, byte, (to < head ? to : head) - from);
  if (from < tail)
    from = tail;
  if (from < to)
    fill(user + from, byte, to - from);
}

/* The header fields but slot/owner/seal, and the junk. */
static void init_fields(sa_dbg_header_t *h, size_t offset, size_t size,
                        size_t junk_from, const void *frame, uint32_t tid) {
  h->alloc_stack = _sa_dbg_stack_capture(SA_DBG_TRACE_DEPTH, frame);
  h->alloc_tid = tid;
  h->size = size;
  h->offset = (uint32_t)offset;
  h->free_stack = 0;
  h->free_tid = 0;
  h->state = SA_DBG_LIVE;
  h->canary = sa_dbg_canary_of(h); /* keyed by the address alone: set once */
  if (junk_from < size && _sa_dbg_options.junk >= 0)
    fill_edges(h, SA_DBG_JUNK_EDGE, junk_from, size,
               (uint8_t)_sa_dbg_options.junk);
}

/* A guarded block's head: the accessible bytes right before its user
 * bytes, at most SA_DBG_GUARD_SLACK_CHECK of them. */
static size_t head_len(const sa_dbg_header_t *h) {
  size_t len = (size_t)(sa_dbg_user(h) - _sa_dbg_guard_start(h));
  return len < SA_DBG_GUARD_SLACK_CHECK ? len : SA_DBG_GUARD_SLACK_CHECK;
}

void _sa_dbg_poison(const sa_dbg_header_t *h) {
  fill_edges(h, SA_DBG_FILL_EDGE, 0, h->size, SA_DBG_POISON);
}

/* Sets footer_len and fills the footer, up to `end` (the accessible end
 * of the block), and a guarded block's head. */
static void fill_footer(sa_dbg_header_t *h, const uint8_t *end) {
  if (sa_dbg_guarded(h)) {
    size_t head = head_len(h);
    fill(sa_dbg_user(h) - head, footer_byte(h), head);
  }
  uint8_t *footer = sa_dbg_user(h) + h->size;
  size_t len = (size_t)(end - footer);
  size_t max =
      sa_dbg_guarded(h) ? SA_DBG_GUARD_SLACK_CHECK : SA_DBG_FOOTER_CHECK;
  h->footer_len = (uint16_t)(len < max ? len : max);
  fill(footer, footer_byte(h), h->footer_len);
}

sa_dbg_header_t *_sa_dbg_block_init(uint8_t *base, size_t block_size,
                                    size_t offset, size_t size,
                                    size_t junk_from, const void *frame,
                                    uint32_t tid) {
  if (offset != SA_DBG_HEADER_SIZE) {
    sa_dbg_lead_t *lead = (sa_dbg_lead_t *)base;
    lead->offset = offset;
    lead->tag = lead_tag(base, offset);
  }
  sa_dbg_header_t *h = (sa_dbg_header_t *)(base + offset) - 1;
  init_fields(h, offset, size, junk_from, frame, tid);
  fill_footer(h, base + block_size);
  return h;
}

void _sa_dbg_header_init(sa_dbg_header_t *h, size_t offset, size_t size,
                         size_t junk_from, const void *frame, uint32_t tid) {
  init_fields(h, offset, size, junk_from, frame, tid);
  fill_footer(h, _sa_dbg_guard_end(h));
}

/* count_damaged once some byte differs: out of line, so that the fast
 * path saves no registers. */
static __attribute__((noinline, cold)) size_t
count_bytes(const uint8_t *p, uint8_t byte, size_t len, size_t *first) {
  size_t damaged = 0;
  for (size_t i = 0; i < len; i++)
    if (p[i] != byte && damaged++ == 0)
      *first = i;
  return damaged;
}

/* count_damaged of a long range (poison and footers of big blocks,
 * kilobytes): one vectorised memcmp of the range against itself shifted
 * by a byte, all match if the first does and each byte equals the next.
 * Out of line, so that the short ranges' path saves no registers. */
static __attribute__((noinline)) size_t
count_long(const uint8_t *p, uint8_t byte, size_t len, size_t *first) {
  if (p[0] == byte && memcmp(p, p + 1, len - 1) == 0)
    return 0;
  return count_bytes(p, byte, len, first);
}

/* How many of the `len` bytes at p differ from `byte`; the first one's
 * index in *first. The common case, all match, is found by or'ing the
 * differences of the whole range 16 bytes a step (64 per loop turn, the
 * last 16 overlapping), tested once at the end; bytes are counted one by
 * one only when some differ; a long range goes to count_long. */
static size_t count_damaged(const uint8_t *p, uint8_t byte, size_t len,
                            size_t *first) {
  if (len >= 256)
    return count_long(p, byte, len, first);
  const uint64_t pattern = 0x0101010101010101ULL * byte;
  if (len >= 16) {
    const sa_dbg_v2_t pat = {pattern, pattern};
    sa_dbg_v2_t diff = load16(p + len - 16) ^ pat;
    size_t i = 0;
    for (; i + 64 <= len; i += 64)
      diff |= (load16(p + i) ^ pat) | (load16(p + i + 16) ^ pat) |
              (load16(p + i + 32) ^ pat) | (load16(p + i + 48) ^ pat);
    for (; i + 16 <= len; i += 16)
      diff |= load16(p + i) ^ pat;
    if ((diff[0] | diff[1]) == 0)
      return 0;
  } else if (len >= 8) {
    uint64_t head, tail;
    memcpy(&head, p, sizeof(head));
    memcpy(&tail, p + len - 8, sizeof(tail));
    if (((head ^ pattern) | (tail ^ pattern)) == 0)
      return 0;
  } else if (len == 0) {
    return 0;
  }
  return count_bytes(p, byte, len, first);
}

/* An underflow into a guarded block's head; false once reported. */
static bool head_check(const sa_dbg_header_t *h) {
  size_t len = head_len(h);
  const uint8_t *head = sa_dbg_user(h) - len;
  size_t first = 0;
  size_t damaged = count_damaged(head, footer_byte(h), len, &first);
  if (damaged == 0)
    return true;
  segalloc_error_t err = {
      .kind = SEGALLOC_ERR_HEAP_BUFFER_UNDERFLOW,
      .address = head + first,
      .block = sa_dbg_user(h),
      .requested_size = h->size,
      .damaged_offset = first - len,
      .damaged_bytes = damaged,
  };
  _sa_dbg_report(&err, h,
                 "%zu byte(s) written just before the %zu-byte block at %p, "
                 "the farthest %zu byte(s) before it",
                 damaged, h->size, (void *)sa_dbg_user(h), len - first);
  return false;
}

bool _sa_dbg_footer_check(const sa_dbg_header_t *h, const void *addr) {
  if (sa_dbg_guarded(h) && !head_check(h))
    return false;
  const uint8_t *footer = sa_dbg_user(h) + h->size;
  size_t first = 0;
  size_t damaged = count_damaged(footer, footer_byte(h), h->footer_len, &first);
  if (damaged == 0)
    return true;
  segalloc_error_t err = {
      .kind = SEGALLOC_ERR_HEAP_BUFFER_OVERFLOW,
      .address = addr != NULL ? addr : footer + first,
      .block = sa_dbg_user(h),
      .requested_size = h->size,
      .damaged_offset = h->size + first,
      .damaged_bytes = damaged,
  };
  _sa_dbg_report(&err, h,
                 "%zu byte(s) written past the end of the %zu-byte block at "
                 "%p, the first at offset %zu (address %p)",
                 damaged, h->size, (void *)sa_dbg_user(h), h->size + first,
                 (const void *)(footer + first));
  return false;
}

bool _sa_dbg_poison_check(const sa_dbg_header_t *h) {
  const uint8_t *user = sa_dbg_user(h);
  size_t head, tail, first = 0, first_tail = 0;
  edges_of(h, SA_DBG_FILL_EDGE, &head, &tail);
  /* Bug 4 of fuzz/bug_hunt.sh leaves the last byte unchecked. */
  size_t end = h->size - (SEGALLOC_INJECT_BUG == 4 && h->size > 0);
  if (tail == head) /* the edges meet: one range */
    head = tail = end;
  size_t damaged =
      count_damaged(user, SA_DBG_POISON, head < end ? head : end, &first);
  size_t damaged_tail = end > tail ? count_damaged(user + tail, SA_DBG_POISON,
                                                   end - tail, &first_tail)
                                   : 0;
  if (damaged == 0)
    first = tail + first_tail;
  damaged += damaged_tail;
  if (damaged == 0)
    return true;
  segalloc_error_t err = {
      .kind = SEGALLOC_ERR_USE_AFTER_FREE,
      .address = user + first,
      .block = user,
      .requested_size = h->size,
      .damaged_offset = first,
      .damaged_bytes = damaged,
  };
  _sa_dbg_report(&err, h,
                 "%zu byte(s) of the freed %zu-byte block at %p were written "
                 "after free, the first at offset %zu",
                 damaged, h->size, (const void *)user, first);
  return false;
}

void _sa_dbg_report_bad_header(const sa_dbg_header_t *h) {
  const uint8_t *user = sa_dbg_user(h);
  uint64_t diff = h->canary ^ sa_dbg_canary_of(h);
  /* The canary is the 8 bytes before the user bytes, little-endian: the
   * lowest damaged byte is the farthest from the block. */
  size_t damaged = diff != 0 ? 8 - (size_t)__builtin_ctzll(diff) / 8 : 0;
  segalloc_error_t err = {.address = user - damaged, .block = user};
  if (diff != 0 && h->seal == sa_dbg_seal_of(h)) {
    /* Only the canary is hit: the fields, and backtraces, are still good. */
    err.kind = SEGALLOC_ERR_HEAP_BUFFER_UNDERFLOW;
    err.requested_size = h->size;
    err.damaged_offset = (size_t)0 - damaged;
    err.damaged_bytes = damaged;
    _sa_dbg_report(&err, h,
                   "%zu byte(s) written just before the %zu-byte block at %p",
                   damaged, h->size, (const void *)user);
  } else if (diff != 0) {
    err.kind = SEGALLOC_ERR_HEAP_BUFFER_UNDERFLOW;
    err.damaged_offset = (size_t)0 - damaged;
    err.damaged_bytes = damaged;
    _sa_dbg_report(&err, NULL,
                   "at least %zu byte(s) written just before the block at %p "
                   "(its header is damaged, so its size is unknown)",
                   damaged, (const void *)user);
  } else {
    err.kind = SEGALLOC_ERR_HEAP_CORRUPTION;
    err.address = h;
    _sa_dbg_report(&err, NULL,
                   "the header of the block at %p is damaged, but not the "
                   "bytes right before the block: a stray write, or a "
                   "pointer into the block passed on from elsewhere",
                   (const void *)user);
  }
}

void _sa_dbg_report_freed(const sa_dbg_header_t *h, const void *p,
                          sa_error_kind_t kind, const char *note) {
  segalloc_error_t err = {.kind = (segalloc_error_kind_t)kind,
                          .address = p,
                          .block = p,
                          .requested_size = h->size};
  _sa_dbg_report(&err, h, "the %zu-byte block at %p was already freed%s",
                 h->size, p, note);
}

/* Copies of the headers of the last large (above 64 KiB) or huge blocks
 * handed back to the core, taken before the core could reuse or unmap
 * them (few blocks a page: their page soon goes). Best effort:
 * a note is skipped while another thread writes one. */
#define RELEASED_RING 64
static struct {
  const void *user;
  sa_dbg_header_t header;
} sa_dbg_released[RELEASED_RING];
static _Atomic size_t sa_dbg_released_next;
static atomic_flag sa_dbg_released_busy = ATOMIC_FLAG_INIT;

void _sa_dbg_note_released(const sa_dbg_header_t *h) {
  if (h->offset + h->size <= SA_LARGE_MAX / 2 ||
      atomic_flag_test_and_set(&sa_dbg_released_busy))
    return;
  size_t i = atomic_fetch_add(&sa_dbg_released_next, 1) % RELEASED_RING;
  sa_dbg_released[i].user = sa_dbg_user(h);
  sa_dbg_released[i].header = *h;
  atomic_flag_clear(&sa_dbg_released_busy);
}

/* A double free of a released large or huge block, reported; false if p
 * is none of those. */
static bool report_released(const void *p, sa_error_kind_t freed_kind) {
  for (size_t i = 0; i < RELEASED_RING; i++) {
    const sa_dbg_header_t *h = &sa_dbg_released[i].header;
    if (sa_dbg_released[i].user != p)
      continue;
    _sa_dbg_report_freed(h, p, freed_kind, " (and its memory given back)");
    return true;
  }
  return false;
}

/* Reports p, which is no block start: where is it? */
static void report_invalid(const void *p, uint8_t *base, size_t block_size,
                           sa_error_kind_t freed_kind) {
  segalloc_error_t err = {.kind = SEGALLOC_ERR_INVALID_FREE, .address = p};
  if (base == NULL) {
    if (report_released(p, freed_kind))
      return;
    _sa_dbg_report(&err, NULL, "%p is %s, not memory from segalloc", p,
                   _sa_dbg_on_stack(p) ? "on the stack"
                                       : "a global, or from another allocator");
    return;
  }
  uint8_t *user = user_of_block(base, block_size);
  const sa_dbg_header_t *h = (const sa_dbg_header_t *)user - 1;
  bool known = _sa_dbg_header_ok(h);
  err.block = user;
  err.requested_size = known ? h->size : 0;
  err.damaged_offset = (size_t)((const uint8_t *)p - user);
  _sa_dbg_report(&err, known ? h : NULL,
                 "%p is not the start of a block: it is %td bytes from the "
                 "start of the %zu-byte block at %p",
                 p, (const uint8_t *)p - user, err.requested_size,
                 (void *)user);
}

sa_dbg_header_t *_sa_dbg_lookup(const void *p, sa_error_kind_t freed_kind) {
  sa_dbg_header_t *live = sa_dbg_lookup_live(p);
  if (SA_LIKELY(live != NULL))
    return live;
  if (sa_dbg_in_guard_pool(p))
    return _sa_dbg_guard_lookup(p, freed_kind);
  size_t block_size = 0;
  uint8_t *base = _sa_block_start(p, &block_size);
  const uint8_t *user = p;
  if (base == NULL || ((uintptr_t)p & (SA_MIN_ALIGN - 1)) != 0 ||
      (size_t)(user - base) < SA_DBG_HEADER_SIZE) {
    report_invalid(p, base, block_size, freed_kind);
    return NULL;
  }
  sa_dbg_header_t *h = (sa_dbg_header_t *)user - 1;
  if (_sa_dbg_header_ok(h)) {
    if (h->state == SA_DBG_LIVE)
      return h;
    _sa_dbg_report_freed(
        h, p, freed_kind,
        h->state == SA_DBG_RELEASED ? " (and has left the quarantine)" : "");
    return NULL;
  }
  if (user != user_of_block(base, block_size))
    report_invalid(p, base, block_size, freed_kind);
  else
    _sa_dbg_report_bad_header(h);
  return NULL;
}
