/* The checked memory functions of the debug drop-in (debug/src/checked.c):
 * this test links //debug:segalloc_debug, so malloc, memcpy, strcpy, ...
 * are segalloc's. A copy or fill that strays out of a heap block (past its
 * end, before its start, into a freed block) dies at the call, before any
 * byte is written, with the usual report; one that stays inside works as
 * libc's. Built with -fno-builtin so that every call here reaches them. */
#include "segalloc_debug.h"
#include "tests/debug/capture.h"
#include "tests/debug/checked_calls.h"
#include "tests/test_util.h"

#include <stdlib.h>

/* ---- the call under test, run in a child ---- */

typedef enum fn_e { CHECKED_CALLS(CHECKED_CALL_ENUM) } fn_t;

#define FN_NAME(e, name) #name,
static const char *const fn_names[] = {CHECKED_CALLS(FN_NAME)};

typedef struct call_s {
  fn_t fn;
  void *dst;
  const void *src;
  size_t n;
  void *free_first; /* a block to free before the call, or NULL */
  bool flush;       /* and empty the quarantine */
} call_t;

static void *volatile sink;

/* Not inlined, and not a tail call: the report's "found" backtrace must
 * start here, in the caller of memcpy & co. */
__attribute__((noinline)) void call_fn(const call_t *c) {
  void *r = NULL;
  switch (c->fn) {
  case MEMCPY:
    r = memcpy(c->dst, c->src, c->n);
    break;
  case MEMMOVE:
    r = memmove(c->dst, c->src, c->n);
    break;
  case MEMSET:
    r = memset(c->dst, 'x', c->n);
    break;
  case STRCPY:
    r = strcpy(c->dst, c->src);
    break;
  case STPCPY:
    r = stpcpy(c->dst, c->src);
    break;
  case STRNCPY:
    r = strncpy(c->dst, c->src, c->n);
    break;
  case STRCAT:
    r = strcat(c->dst, c->src);
    break;
  case STRNCAT:
    r = strncat(c->dst, c->src, c->n);
    break;
  }
  sink = r;
}

static void run_call(void *arg) {
  const call_t *c = arg;
  free(c->free_first);
  if (c->flush)
    segalloc_flush_quarantine();
  call_fn(c);
}

/* A string of `len` 'a's, on the heap (freed by the caller). */
static char *string_of(size_t len) {
  char *s = malloc(len + 1);
  memset(s, 'a', len);
  s[len] = '\0';
  return s;
}

static void assert_has(const death_result_t *r, const char *text) {
  cr_assert(strstr(r->output, text) != NULL, "report lacks \"%s\":\n%s", text,
            r->output);
}

/* Dies at the call with the report of `kind` at `addr`, naming the access;
 * its backtraces are there, and the detecting one starts in call_fn. */
static void expect_report(const call_t *c, const char *kind, const void *addr,
                          const char *access) {
  death_result_t r;
  death_run(run_call, (void *)c, &r);
  death_assert_report(&r, kind, addr);
  char text[128];
  snprintf(text, sizeof(text), "%s of ", access);
  assert_has(&r, text);
  snprintf(text, sizeof(text), " by %s", fn_names[c->fn]);
  assert_has(&r, text);
  /* (The core reuses the first word of a released block: its trace.) */
  if (!c->flush)
    assert_has(&r, "allocated by thread");
  if (strcmp(kind, "use-after-free") == 0)
    assert_has(&r, "freed by thread");
  const char *found = strstr(r.output, "found by thread");
  cr_assert(found != NULL, "no detecting backtrace:\n%s", r.output);
  const char *frame0 = strchr(found, '\n') + 1;
  size_t len = strcspn(frame0, "\n");
  cr_assert(memmem(frame0, len, "#0 0x", 5) != NULL &&
                memmem(frame0, len, " in call_fn+", 12) != NULL,
            "the detecting backtrace must start in call_fn:\n%s", r.output);
  assert_has(&r, "aborting");
}

static const size_t past[] = {1, 32, MiB};

/* ---- heap-buffer-overflow: 1 byte, 32 bytes, 1 MiB past the end ---- */

Test(checked, mem_functions_overflow_at_the_call) {
  const size_t size = 100;
  char *big = malloc(size + MiB);
  memset(big, 'b', size + MiB);
  for (fn_t fn = MEMCPY; fn <= MEMSET; fn++) {
    for (size_t i = 0; i < sizeof(past) / sizeof(past[0]); i++) {
      char *p = malloc(size);
      call_t c = {fn, p, big, size + past[i], NULL, false};
      expect_report(&c, "heap-buffer-overflow", p + size, "WRITE");
      free(p);
    }
  }
  free(big);
}

Test(checked, interior_pointer_overflow) {
  char *p = malloc(10);
  char src[16] = "0123456789abcde";
  call_t ok = {MEMCPY, p + 5, src, 5, NULL, false};
  call_fn(&ok);
  cr_assert_eq(memcmp(p + 5, "01234", 5), 0);
  call_t c = {MEMCPY, p + 5, src, 6, NULL, false};
  expect_report(&c, "heap-buffer-overflow", p + 10, "WRITE");
  /* Starting past the end, in the footer. */
  call_t footer = {MEMSET, p + 12, NULL, 1, NULL, false};
  expect_report(&footer, "heap-buffer-overflow", p + 12, "WRITE");
  free(p);
}

Test(checked, source_overflow_is_a_read) {
  char *p = malloc(64);
  memset(p, 'p', 64);
  char dst[128];
  for (fn_t fn = MEMCPY; fn <= MEMMOVE; fn++) {
    call_t c = {fn, dst, p, 65, NULL, false};
    expect_report(&c, "heap-buffer-overflow", p + 64, "READ");
  }
  free(p);
}

Test(checked, blocks_of_every_kind) {
  /* small, medium, large, huge, aligned: each bounded by its size. */
  const size_t sizes[] = {0, 1, 24, 1000, 70000, MiB, 3 * MiB};
  char *src = malloc(3 * MiB + 64);
  memset(src, 's', 3 * MiB + 64);
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char *blocks[] = {malloc(sizes[i]), aligned_alloc(4096, sizes[i])};
    for (size_t b = 0; b < 2; b++) {
      call_t ok = {MEMCPY, blocks[b], src, sizes[i], NULL, false};
      call_fn(&ok);
      call_t c = {MEMCPY, blocks[b], src, sizes[i] + 1, NULL, false};
      expect_report(&c, "heap-buffer-overflow", blocks[b] + sizes[i], "WRITE");
      free(blocks[b]);
    }
  }
  free(src);
}

Test(checked, bounds_follow_realloc) {
  char *p = malloc(100);
  p = realloc(p, 120); /* in place: the bound moves with it */
  char src[200] = {0};
  call_t ok = {MEMCPY, p, src, 120, NULL, false};
  call_fn(&ok);
  call_t c = {MEMCPY, p, src, 121, NULL, false};
  expect_report(&c, "heap-buffer-overflow", p + 120, "WRITE");
  p = realloc(p, 50);
  call_t shrunk = {MEMSET, p, NULL, 51, NULL, false};
  expect_report(&shrunk, "heap-buffer-overflow", p + 50, "WRITE");
  free(p);
}

/* ---- heap-buffer-underflow: 1 byte, 32 bytes, 1 MiB before the start ---- */

Test(checked, underflow_at_the_call) {
  char src[64] = {0};
  char *p = malloc(100);
  for (fn_t fn = MEMCPY; fn <= MEMSET; fn++) {
    call_t one = {fn, p - 1, src, 8, NULL, false};
    expect_report(&one, "heap-buffer-underflow", p - 1, "WRITE");
    call_t thirty_two = {fn, p - 32, src, 64, NULL, false};
    expect_report(&thirty_two, "heap-buffer-underflow", p - 32, "WRITE");
  }
  char dst[8];
  call_t read = {MEMCPY, dst, p - 1, 8, NULL, false};
  expect_report(&read, "heap-buffer-underflow", p - 1, "READ");
  free(p);
  /* 1 MiB before a block aligned to 2 MiB: inside its own padding. */
  char *far = aligned_alloc(2 * MiB, 100);
  char *big = malloc(MiB + 100);
  call_t c = {MEMSET, far - MiB, NULL, MiB + 100, NULL, false};
  expect_report(&c, "heap-buffer-underflow", far - MiB, "WRITE");
  call_t copy = {MEMCPY, far - MiB, big, MiB + 1, NULL, false};
  expect_report(&copy, "heap-buffer-underflow", far - MiB, "WRITE");
  free(big);
  free(far);
}

/* ---- use-after-free ---- */

Test(checked, use_after_free_at_the_call) {
  char src[64] = {0};
  for (fn_t fn = MEMCPY; fn <= MEMSET; fn++) {
    for (int flush = 0; flush < 2; flush++) {
      char *p = malloc(40);
      call_t c = {fn, p + 8, src, 8, p, flush};
      expect_report(&c, "use-after-free", p + 8, "WRITE");
      free(p);
    }
  }
}

static void read_after_free(void *arg) {
  char dst[40];
  free(arg);
  call_t c = {MEMCPY, dst, arg, 40, NULL, false};
  call_fn(&c);
}

Test(checked, read_after_free) {
  char *p = malloc(40);
  death_result_t r;
  death_run(read_after_free, p, &r);
  death_assert_report(&r, "use-after-free", p);
  assert_has(&r, "READ of 40 byte(s)");
  assert_has(&r, "freed by thread");
  free(p);
}

/* ---- strings ---- */

Test(checked, string_functions_overflow_at_the_call) {
  const size_t size = 10;
  for (size_t i = 0; i < sizeof(past) / sizeof(past[0]); i++) {
    /* Copies write strlen + 1 bytes; size + past[i] in all. */
    char *s = string_of(size + past[i] - 1);
    char *p = malloc(size);
    call_t copies[] = {
        {STRCPY, p, s, 0, NULL, false},
        {STPCPY, p, s, 0, NULL, false},
        {STRNCPY, p, s, size + past[i], NULL, false},
    };
    for (size_t k = 0; k < 3; k++)
      expect_report(&copies[k], "heap-buffer-overflow", p + size, "WRITE");
    /* Appends after "abc": 3 + (size + past[i] - 4) + 1 bytes. */
    strcpy(p, "abc");
    char *tail = string_of(size + past[i] - 4);
    call_t appends[] = {
        {STRCAT, p, tail, 0, NULL, false},
        {STRNCAT, p, tail, size + past[i], NULL, false},
    };
    for (size_t k = 0; k < 2; k++)
      expect_report(&appends[k], "heap-buffer-overflow", p + size, "WRITE");
    free(tail);
    free(p);
    free(s);
  }
}

Test(checked, unterminated_source_is_a_read_overflow) {
  char *p = malloc(16);
  memset(p, 'a', 16); /* no terminator within the block */
  char dst[64];
  call_t c = {STRCPY, dst, p, 0, NULL, false};
  expect_report(&c, "heap-buffer-overflow", p + 16, "READ");
  call_t n = {STRNCPY, dst, p, 20, NULL, false};
  expect_report(&n, "heap-buffer-overflow", p + 16, "READ");
  /* strncpy reading at most 16 bytes reads within the block. */
  call_t bounded = {STRNCPY, dst, p, 16, NULL, false};
  call_fn(&bounded);
  cr_assert_eq(memcmp(dst, p, 16), 0);
  /* strcat reads the destination's string first. */
  call_t cat = {STRCAT, p, "x", 0, NULL, false};
  expect_report(&cat, "heap-buffer-overflow", p + 16, "READ");
  free(p);
}

Test(checked, string_functions_after_free) {
  char *p = malloc(32);
  strcpy(p, "hello");
  call_t c = {STRCPY, p, "world", 0, p, false};
  expect_report(&c, "use-after-free", p, "WRITE");
  free(p);
}

/* ---- in bounds: they work as libc's ---- */

Test(checked, in_bounds_calls_work) {
  char *p = malloc(32);
  cr_assert_eq(memset(p, 'z', 32), p);
  cr_assert_eq(p[31], 'z');
  cr_assert_eq(memcpy(p, "0123456789", 10), p);
  cr_assert_eq(memmove(p + 1, p, 9), p + 1); /* overlapping, forward */
  cr_assert_eq(memcmp(p, "0012345678", 10), 0);
  cr_assert_eq(memmove(p, p + 1, 9), p); /* backward */
  cr_assert_eq(memcmp(p, "0123456788", 10), 0);
  cr_assert_eq(memcpy(p + 32, "x", 0), p + 32); /* empty, at the end */
  cr_assert_eq(strcpy(p, "abc"), p);
  cr_assert_eq(stpcpy(p + 3, "def"), p + 6);
  cr_assert_str_eq(p, "abcdef");
  cr_assert_eq(strcat(p, "gh"), p);
  cr_assert_eq(strncat(p, "ijklmn", 2), p);
  cr_assert_str_eq(p, "abcdefghij");
  memset(p, 'q', 32);
  cr_assert_eq(strncpy(p, "xy", 8), p);
  cr_assert_eq(memcmp(p, "xy\0\0\0\0\0\0q", 9), 0); /* padded to 8 */
  cr_assert_eq(strncpy(p, "abcdef", 3), p);
  cr_assert_eq(memcmp(p, "abc\0", 4), 0); /* not terminated */
  strcpy(p, "0123456789");
  strcpy(p, p + 1); /* overlapping strcpy: undefined, yet common */
  cr_assert_str_eq(p, "123456789");
  /* Memory that isn't segalloc's: the stack. */
  char stack[16];
  cr_assert_eq(memcpy(stack, "stack", 6), stack);
  cr_assert_str_eq(stack, "stack");
  free(p);
}

/* ---- going on after a report ---- */

TestSuite(checked_handler, .init = capture_start, .fini = capture_stop);

Test(checked_handler, details_then_the_copy_goes_on) {
  char *p = malloc(20);
  char src[40];
  memset(src, 'c', sizeof(src));
  call_t c = {MEMCPY, p, src, 23, NULL, false};
  call_fn(&c);
  cr_assert_eq(captured.count, 1);
  const segalloc_error_t *e = &captured.errors[0];
  cr_assert_eq(e->kind, SEGALLOC_ERR_HEAP_BUFFER_OVERFLOW);
  cr_assert_eq(e->address, p + 20);
  cr_assert_eq(e->block, p);
  cr_assert_eq(e->requested_size, 20);
  cr_assert_eq(e->damaged_offset, 20);
  cr_assert_eq(e->damaged_bytes, 3);
  char *volatile past_end = p + 22; /* unknown to -Warray-bounds */
  cr_assert_eq(*past_end, 'c');     /* as the program asked */
  free(p); /* the footer is damaged: found again, and kept out of use */
  cr_assert_eq(captured.count, 2);
  cr_assert_eq(captured.errors[1].kind, SEGALLOC_ERR_HEAP_BUFFER_OVERFLOW);

  /* Into the padding of an aligned block, which nothing else checks. */
  char *q = aligned_alloc(256, 20);
  call_t under = {MEMSET, q - 200, NULL, 8, NULL, false};
  call_fn(&under);
  cr_assert_eq(captured.count, 3);
  e = &captured.errors[2];
  cr_assert_eq(e->kind, SEGALLOC_ERR_HEAP_BUFFER_UNDERFLOW);
  cr_assert_eq(e->address, q - 200);
  cr_assert_eq(e->block, q);
  cr_assert_eq(e->damaged_offset, (size_t)-200);
  cr_assert_eq(e->damaged_bytes, 8);
  free(q);
  cr_assert_eq(captured.count, 3);
}
