/* The shadow model: see sf_model.h. */
#include "sf_model.h"

#include "segalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Requests that could succeed may ask for at most this many bytes in
 * blocks above SF_DENSE per input (and table); later ones are skipped. A
 * fresh page costs ~10 us to fault in here, and the allocator touches
 * every page of a big block it copies: a mutated seed with 32 blocks of
 * 1 MiB took 150 ms an execution, and such inputs ate 90% of a campaign.
 * The budget still allows any size the decoder makes alone (up to 4 MiB,
 * a calloc up to 8 MiB) and a realloc of it; impossible sizes are never
 * skipped. */
#define SF_BUDGET ((size_t)8 << 20)
/* Anything this large cannot be mapped in a 47-bit user address space. */
#define SF_IMPOSSIBLE ((size_t)1 << 47)

void sf_fail(size_t index, const char *kind, const char *fmt, ...) {
  /* In the MT target several threads may fail at once; the second abort()
   * would kill the process while the engine's crash handler, run by the
   * first, is still saving the input. Only the first one reports. */
  static atomic_flag failing = ATOMIC_FLAG_INIT;
  if (atomic_flag_test_and_set(&failing))
    for (;;)
      pause();
  va_list ap;
  fprintf(stderr, "segalloc-fuzz: FAIL at op #%zu (%s): ", index, kind);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
  abort();
}

/* The oracle's byte loops are not what the fuzzer should learn from, and
 * comparison tracing in them (-fsanitize=fuzzer) costs more than the
 * allocator itself: keep coverage instrumentation out of them. */
#if defined(__clang__) && __clang_major__ >= 13
#define SF_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#elif !defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 12
#define SF_NO_COVERAGE __attribute__((no_sanitize_coverage))
#else
#define SF_NO_COVERAGE
#endif

/* ---- patterns ---- */

static uint64_t mix64(uint64_t x) { /* splitmix64 finaliser */
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* Byte i of a block is byte (i % 8) of word(i / 8); words differ by index,
 * so a block copied to the wrong offset or another block's bytes don't
 * match. Never all-zero, so a calloc'd or purged page doesn't match either.
 */
static uint64_t word(uint64_t seed, size_t j) {
  return seed ^ (j * 0x9e3779b97f4a7c15ULL);
}

static unsigned char pattern_byte(uint64_t seed, size_t i) {
  return (unsigned char)(word(seed, i / 8) >> (8 * (i % 8)));
}

SF_NO_COVERAGE static void fill(unsigned char *p, size_t from, size_t to,
                                uint64_t seed) {
  size_t i = from;
  for (; i < to && i % 8 != 0; i++)
    p[i] = pattern_byte(seed, i);
  for (; i + 8 <= to; i += 8) {
    uint64_t w = word(seed, i / 8);
    memcpy(p + i, &w, 8); /* little endian: byte k of w is pattern byte k */
  }
  for (; i < to; i++)
    p[i] = pattern_byte(seed, i);
}

/* Returns the first offset in [from, to) that doesn't match, or `to`. */
SF_NO_COVERAGE static size_t check_range(const unsigned char *p, size_t from,
                                         size_t to, uint64_t seed) {
  size_t i = from;
  for (; i < to && i % 8 != 0; i++)
    if (p[i] != pattern_byte(seed, i))
      return i;
  for (; i + 8 <= to; i += 8) {
    uint64_t w = word(seed, i / 8), got;
    memcpy(&got, p + i, 8);
    if (got != w)
      break;
  }
  for (; i < to; i++)
    if (p[i] != pattern_byte(seed, i))
      return i;
  return to;
}

SF_NO_COVERAGE static size_t zero_range(const unsigned char *p, size_t from,
                                        size_t to) {
  size_t i = from;
  for (; i + 8 <= to; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (w != 0)
      break;
  }
  for (; i < to; i++)
    if (p[i] != 0)
      return i;
  return to;
}

/* Large blocks are sampled rather than filled and checked whole: both
 * edges (headers, neighbours, copies that are off by a page) and a piece
 * of every 64 KiB stride. Touching every page of megabyte blocks costs
 * page faults that would cut the execution rate tenfold, for little. */
#define SF_DENSE ((size_t)64 << 10) /* up to this: every byte */
#define SF_EDGE ((size_t)4 << 10)
#define SF_STRIDE ((size_t)64 << 10)
#define SF_PIECE ((size_t)512)
#define SF_OK SIZE_MAX /* "no bad byte" */

/* The k-th sampled span [lo, hi) of a block of n bytes; 0 past the last. */
SF_NO_COVERAGE static int span(size_t n, size_t k, size_t *lo, size_t *hi) {
  if (n <= SF_DENSE) {
    *lo = 0;
    *hi = n;
    return k == 0;
  }
  /* pieces 1..middle start at k * SF_STRIDE and end before the tail */
  size_t middle = (n - SF_EDGE - SF_PIECE) / SF_STRIDE;
  if (k == 0) {
    *lo = 0;
    *hi = SF_EDGE;
  } else if (k <= middle) {
    *lo = k * SF_STRIDE;
    *hi = *lo + SF_PIECE;
  } else if (k == middle + 1) {
    *lo = n - SF_EDGE;
    *hi = n;
  } else {
    return 0;
  }
  return 1;
}

SF_NO_COVERAGE static void fill_sampled(unsigned char *p, size_t n,
                                        uint64_t seed) {
  size_t lo, hi;
  for (size_t k = 0; span(n, k, &lo, &hi); k++)
    fill(p, lo, hi, seed);
}

/* Checks the bytes below `limit` that a block of n bytes samples; returns
 * the first bad offset or SF_OK. zero: expect zeros, not the pattern. */
SF_NO_COVERAGE static size_t check_sampled(const unsigned char *p, size_t n,
                                           size_t limit, uint64_t seed,
                                           int zero) {
  size_t lo, hi;
  for (size_t k = 0; span(n, k, &lo, &hi); k++) {
    if (hi > limit)
      hi = limit;
    if (lo >= hi)
      continue;
    size_t bad = zero ? zero_range(p, lo, hi) : check_range(p, lo, hi, seed);
    if (bad != hi)
      return bad;
  }
  return SF_OK;
}

/* ---- interval set of live blocks ---- */

static void iv_lock(sf_intervals_t *s) {
  if (s->lock)
    pthread_mutex_lock(s->lock);
}

static void iv_unlock(sf_intervals_t *s) {
  if (s->lock)
    pthread_mutex_unlock(s->lock);
}

/* A zero-length block still occupies one byte: two live blocks may not
 * share an address. */
SF_NO_COVERAGE static void iv_insert(sf_intervals_t *s, const void *p,
                                     size_t len, size_t index,
                                     const char *kind) {
  uintptr_t lo = (uintptr_t)p, hi = lo + (len ? len : 1);
  iv_lock(s);
  for (size_t i = 0; i < s->count; i++) {
    if (lo < s->iv[i].hi && s->iv[i].lo < hi) {
      uintptr_t olo = s->iv[i].lo, ohi = s->iv[i].hi;
      iv_unlock(s);
      sf_fail(index, kind,
              "new block [%#lx, %#lx) overlaps live block [%#lx, %#lx)",
              (unsigned long)lo, (unsigned long)hi, (unsigned long)olo,
              (unsigned long)ohi);
    }
  }
  s->iv[s->count].lo = lo;
  s->iv[s->count].hi = hi;
  s->count++;
  iv_unlock(s);
}

static void iv_remove(sf_intervals_t *s, const void *p) {
  iv_lock(s);
  for (size_t i = 0; i < s->count; i++) {
    if (s->iv[i].lo == (uintptr_t)p) {
      s->iv[i] = s->iv[--s->count];
      break;
    }
  }
  iv_unlock(s);
}

/* ---- model ---- */

void sf_model_init(sf_model_t *m, unsigned table, sf_intervals_t *iv,
                   const sf_hooks_t *hooks) {
  static const sf_hooks_t none;
  memset(m, 0, sizeof *m);
  m->table = table;
  m->intervals = iv;
  m->hooks = hooks ? hooks : &none;
}

void sf_model_single(sf_model_t *m, sf_intervals_t *iv,
                     const sf_hooks_t *hooks) {
  iv->lock = NULL;
  iv->count = 0;
  sf_model_init(m, 0, iv, hooks);
  m->exact_stats = 1;
  sf_baseline(m);
}

void sf_verify_block(const sf_model_t *m, unsigned slot, size_t index,
                     const char *what) {
  const sf_block_t *b = &m->slots[slot];
  size_t bad = check_sampled(b->p, b->filled, b->filled, b->seed, 0);
  if (bad != SF_OK)
    sf_fail(index, what,
            "block %p (slot %u, size %zu) damaged at offset %zu: "
            "expected %#x, found %#x",
            (void *)b->p, slot, b->size, bad, pattern_byte(b->seed, bad),
            b->p[bad]);
}

void sf_verify_all(sf_model_t *m, size_t index) {
  for (unsigned s = 0; s < SF_SLOTS; s++)
    if (m->slots[s].p)
      sf_verify_block(m, s, index, "final verify");
}

void sf_forget(sf_model_t *m, unsigned slot) {
  sf_block_t *b = &m->slots[slot];
  if (b->p)
    iv_remove(m->intervals, b->p);
  memset(b, 0, sizeof *b);
}

/* Whether to skip a request of `bytes` that could succeed (SF_BUDGET);
 * charges the budget when not. */
static int over_budget(sf_model_t *m, size_t bytes) {
  if (bytes <= SF_DENSE)
    return 0;
  if (bytes > SF_BUDGET - m->big_bytes)
    return 1;
  m->big_bytes += bytes;
  return 0;
}

static int is_pow2(size_t x) {
  return x != 0 && (x & (x - 1)) == 0;
}

/* Records a block the allocator just returned and checks the promises
 * every allocation makes: alignment, usable size, no overlap. `align` 0:
 * malloc's (16, or C's for small blocks when the hooks allow it); the
 * aligned calls give at least 16. `zeroed`: calloc, whose bytes must read
 * as zero first. */
static void adopt(sf_model_t *m, unsigned slot, void *ptr, size_t size,
                  size_t align, int zeroed, size_t index, const char *kind) {
  unsigned char *p = ptr;
  if (align == 0)
    for (align = 16;
         m->hooks->small_align_by_size && align > 1 && size < align;)
      align /= 2;
  else if (align < 16)
    align = 16;
  if ((uintptr_t)p % align != 0)
    sf_fail(index, kind, "%p (size %zu) is not aligned to %zu", ptr, size,
            align);
  size_t usable = segalloc_usable_size(p);
  if (usable < size)
    sf_fail(index, kind, "usable size %zu < requested %zu for %p", usable, size,
            ptr);
  if (zeroed) {
    size_t bad = check_sampled(p, size, size, 0, 1);
    if (bad != SF_OK)
      sf_fail(index, kind, "calloc block %p (size %zu) not zero at %zu", ptr,
              size, bad);
  }
  iv_insert(m->intervals, p, usable, index, kind);
  sf_block_t *b = &m->slots[slot];
  b->p = p;
  b->size = size;
  b->filled = size;
  b->seed =
      mix64((uint64_t)m->table << 48 ^ (uint64_t)slot << 40 ^ ++m->generation);
  fill_sampled(p, size, b->seed);
}

static void release(sf_model_t *m, unsigned slot, size_t index,
                    const char *kind) {
  sf_block_t *b = &m->slots[slot];
  if (!b->p)
    return;
  sf_verify_block(m, slot, index, kind);
  void *p = b->p;
  sf_forget(m, slot);
  segalloc_free(p);
}

/* The result of a request that cannot succeed: NULL and ENOMEM. */
static void expect_enomem(void *p, size_t index, const char *kind,
                          size_t size) {
  if (p != NULL)
    sf_fail(index, kind, "impossible size %zu returned %p", size, p);
  if (errno != ENOMEM)
    sf_fail(index, kind, "impossible size %zu: errno %d, want ENOMEM", size,
            errno);
}

static void do_malloc(sf_model_t *m, const sf_op_t *op, size_t index) {
  const char *kind = "malloc";
  if (!op->must_fail && over_budget(m, op->size))
    return;
  release(m, op->slot, index, kind);
  errno = 0;
  void *p = segalloc_malloc(op->size);
  if (op->must_fail) {
    expect_enomem(p, index, kind, op->size);
    return;
  }
  if (p == NULL) {
    if (op->size == 0)
      return; /* allowed for malloc(0) */
    sf_fail(index, kind, "malloc(%zu) failed, errno %d", op->size, errno);
  }
  adopt(m, op->slot, p, op->size, 0, 0, index, kind);
}

static void do_calloc(sf_model_t *m, const sf_op_t *op, size_t index) {
  const char *kind = "calloc";
  size_t total;
  int overflow = __builtin_mul_overflow(op->count, op->size, &total);
  if (!overflow && total < SF_IMPOSSIBLE && over_budget(m, total))
    return;
  release(m, op->slot, index, kind);
  errno = 0;
  void *p = segalloc_calloc(op->count, op->size);
  if (overflow || total >= SF_IMPOSSIBLE) {
    expect_enomem(p, index, kind, total);
    return;
  }
  if (p == NULL) {
    if (total == 0)
      return;
    sf_fail(index, kind, "calloc(%zu, %zu) failed, errno %d", op->count,
            op->size, errno);
  }
  adopt(m, op->slot, p, total, 0, 1, index, kind);
}

/* realloc and reallocarray; `total` is the byte count asked for, `fails`
 * says it can't be satisfied (too large or count * size overflowed). */
static void resize(sf_model_t *m, const sf_op_t *op, size_t index,
                   const char *kind, size_t total, int fails) {
  sf_block_t *b = &m->slots[op->slot];
  sf_block_t old = *b;
  if (old.p) {
    sf_verify_block(m, op->slot, index, kind);
    /* Out of the interval set before the call, as release() does: realloc
     * frees the old block inside, and in the MT target another thread may
     * get it back before this one could drop it (a false "overlaps live
     * block", seen as a flaky fuzz_alloc_mt crash). */
    sf_forget(m, op->slot);
  }
  errno = 0;
  void *p = op->kind == SF_OP_REALLOC
                ? segalloc_realloc(old.p, op->size)
                : segalloc_reallocarray(old.p, op->count, op->size);
  if (fails) {
    expect_enomem(p, index, kind, total);
    if (old.p) { /* a failed realloc leaves the block alone */
      iv_insert(m->intervals, old.p, segalloc_usable_size(old.p), index, kind);
      *b = old;
      sf_verify_block(m, op->slot, index, kind);
    }
    return;
  }
  if (p == NULL) {
    /* realloc(p, 0) may free p and return NULL (glibc does). If the
     * allocator returned NULL without freeing, the final stats catch the
     * leak. */
    if (total == 0)
      return;
    sf_fail(index, kind, "%s(%p, %zu) failed, errno %d", kind, (void *)old.p,
            total, errno);
  }
  /* C: the contents are unchanged up to the lesser of the old and new
   * sizes. Check them before adopt() overwrites the block. */
  size_t keep = old.size < total ? old.size : total;
  size_t bad = check_sampled(p, old.filled, keep, old.seed, 0);
  if (bad != SF_OK)
    sf_fail(index, kind,
            "%s(%p, %zu) -> %p lost old contents at offset %zu of %zu", kind,
            (void *)old.p, total, p, bad, keep);
  adopt(m, op->slot, p, total, 0, 0, index, kind);
}

static void do_realloc(sf_model_t *m, const sf_op_t *op, size_t index) {
  if (!op->must_fail && over_budget(m, op->size))
    return;
  resize(m, op, index, "realloc", op->size, op->must_fail);
}

static void do_reallocarray(sf_model_t *m, const sf_op_t *op, size_t index) {
  size_t total;
  int overflow = __builtin_mul_overflow(op->count, op->size, &total);
  int fails = overflow || total >= SF_IMPOSSIBLE;
  if (!fails && over_budget(m, total))
    return;
  resize(m, op, index, "reallocarray", total, fails);
}

static void do_aligned(sf_model_t *m, const sf_op_t *op, size_t index) {
  const char *kind = sf_op_name(op);
  size_t page = sf_sizes()->page, al = op->align, size = op->size;
  sf_aligned_fn_t fn = (sf_aligned_fn_t)(op->variant % SF_AL_COUNT);
  if (!op->must_fail && over_budget(m, size))
    return;
  release(m, op->slot, index, kind);
  void *p = NULL;
  int rc = 0;
  errno = 0;
  switch (fn) {
  case SF_AL_POSIX_MEMALIGN:
    rc = segalloc_posix_memalign(&p, al, size);
    break;
  case SF_AL_ALIGNED_ALLOC:
    p = segalloc_aligned_alloc(al, size);
    break;
  case SF_AL_MEMALIGN:
    p = segalloc_memalign(al, size);
    break;
  case SF_AL_VALLOC:
    al = page;
    p = segalloc_valloc(size);
    break;
  default:
    al = page;
    p = segalloc_pvalloc(size);
    break;
  }
  if (fn == SF_AL_POSIX_MEMALIGN) {
    errno = rc; /* one code path below for both error conventions */
    if (rc != 0)
      p = NULL;
  }

  /* What the contract says about this request. */
  int bad_align =
      !is_pow2(al) || (fn == SF_AL_POSIX_MEMALIGN && al % sizeof(void *) != 0);
  /* Alignments the allocator may refuse (its limit is not public). */
  int huge_align = al > ((size_t)1 << 28);
  size_t need = size;
  /* pvalloc rounds the size up to a page; segalloc makes pvalloc(0) a
   * whole page too (glibc: a minimal block), in both builds. */
  if (fn == SF_AL_PVALLOC)
    need = size > SIZE_MAX - (page - 1) ? SIZE_MAX
           : size == 0                  ? page
                                        : (size + page - 1) & ~(page - 1);
  int fails = op->must_fail || need >= SF_IMPOSSIBLE;

  if (bad_align && fn != SF_AL_MEMALIGN) {
    /* EINVAL. With an impossible size as well, either error is fair. */
    if (p != NULL || (errno != EINVAL && !(fails && errno == ENOMEM)))
      sf_fail(index, kind, "alignment %zu: got %p errno %d, want EINVAL", al, p,
              errno);
    return;
  }
  if (p == NULL) {
    if (fails && (errno == ENOMEM || (huge_align && errno == EINVAL)))
      return;
    if (fails)
      sf_fail(index, kind, "impossible size %zu: errno %d, want ENOMEM", size,
              errno);
    /* memalign with a bad alignment may refuse (EINVAL) or round it up as
     * glibc does; a huge alignment may be refused; size 0 may give NULL. */
    if ((fn == SF_AL_MEMALIGN && (bad_align || huge_align) &&
         errno == EINVAL) ||
        (huge_align && (errno == ENOMEM || errno == EINVAL)) ||
        (size == 0 && fn != SF_AL_PVALLOC))
      return;
    sf_fail(index, kind, "%s(align %zu, size %zu) failed, errno %d", kind, al,
            size, errno);
  }
  if (fails)
    sf_fail(index, kind, "impossible size %zu returned %p", size, p);
  if (bad_align) { /* memalign that accepted: glibc rounds up to a power */
    size_t up = 1;
    while (up < al && up != 0)
      up <<= 1;
    al = up ? up : 16;
  }
  /* pvalloc's block is the whole rounded size: the caller may use all of
   * it, and a debug build records (and walks) it with that size. */
  adopt(m, op->slot, p, need, al, 0, index, kind);
}

static void do_usable(sf_model_t *m, const sf_op_t *op, size_t index) {
  sf_block_t *b = &m->slots[op->slot];
  if (!b->p) {
    size_t u = segalloc_usable_size(NULL);
    if (u != 0)
      sf_fail(index, "usable", "usable_size(NULL) = %zu", u);
    return;
  }
  size_t u = segalloc_usable_size(b->p);
  if (u < b->size)
    sf_fail(index, "usable", "usable size %zu < requested %zu", u, b->size);
  /* The slack is the caller's to use: write it, so a block that overlaps
   * this one's tail, or a debug build that calls it an overflow, shows. */
  if (u > b->filled) {
    /* Sampling depends on the length: re-lay the pattern for u bytes. */
    fill_sampled(b->p, u, b->seed);
    b->filled = u;
  }
}

static void do_check(sf_model_t *m, size_t index) {
  int broken = segalloc_check_heap();
  if (broken != 0)
    sf_fail(index, "check", "segalloc_check_heap() = %d", broken);
  if (!m->exact_stats)
    return;
  if (m->hooks->before_stats)
    m->hooks->before_stats();
  size_t live = 0, bytes = 0;
  for (unsigned s = 0; s < SF_SLOTS; s++) {
    if (m->slots[s].p) {
      live++;
      bytes += m->slots[s].size;
    }
  }
  segalloc_stats_t st;
  segalloc_get_stats(&st);
  if (st.in_use_blocks != m->base_blocks + live)
    sf_fail(index, "check", "in_use_blocks %zu, want %zu + %zu live",
            st.in_use_blocks, m->base_blocks, live);
  if (st.in_use_bytes < m->base_bytes + bytes)
    sf_fail(index, "check", "in_use_bytes %zu < %zu + %zu requested",
            st.in_use_bytes, m->base_bytes, bytes);
}

void sf_exec(sf_model_t *m, const sf_op_t *op, size_t index) {
  switch (op->kind) {
  case SF_OP_MALLOC:
    do_malloc(m, op, index);
    break;
  case SF_OP_CALLOC:
    do_calloc(m, op, index);
    break;
  case SF_OP_REALLOC:
    do_realloc(m, op, index);
    break;
  case SF_OP_FREE:
    if (m->slots[op->slot].p)
      release(m, op->slot, index, "free");
    else
      segalloc_free(NULL); /* must be a no-op */
    break;
  case SF_OP_ALIGNED:
    do_aligned(m, op, index);
    break;
  case SF_OP_USABLE:
    do_usable(m, op, index);
    break;
  case SF_OP_CHECK:
    do_check(m, index);
    break;
  case SF_OP_REALLOCARRAY:
    do_reallocarray(m, op, index);
    break;
  default:
    if (m->hooks->misuse)
      m->hooks->misuse(m, op, index);
    break;
  }
}

void sf_free_all(sf_model_t *m, size_t index) {
  for (unsigned s = 0; s < SF_SLOTS; s++)
    release(m, s, index, "final free");
}

void sf_baseline(sf_model_t *m) {
  if (m->hooks->before_stats)
    m->hooks->before_stats();
  segalloc_stats_t st;
  segalloc_get_stats(&st);
  m->base_blocks = st.in_use_blocks;
  m->base_bytes = st.in_use_bytes;
}

void sf_final_checks(const sf_model_t *m, size_t index) {
  int broken = segalloc_check_heap();
  if (broken != 0)
    sf_fail(index, "final check", "segalloc_check_heap() = %d", broken);
  if (m->hooks->before_stats)
    m->hooks->before_stats();
  segalloc_stats_t st;
  segalloc_get_stats(&st);
  if (st.in_use_blocks != m->base_blocks || st.in_use_bytes != m->base_bytes)
    sf_fail(index, "final check",
            "after freeing everything: in_use_blocks %zu (was %zu), "
            "in_use_bytes %zu (was %zu)",
            st.in_use_blocks, m->base_blocks, st.in_use_bytes, m->base_bytes);
}
