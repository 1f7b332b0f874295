/* The glibc _chk variants of the debug drop-in (debug/src/checked.c), as a
 * program built with -D_FORTIFY_SOURCE=2 calls them: where the compiler
 * knows the destination's size (here, a malloc in the same function) it
 * calls __memcpy_chk & co, which check the heap block like memcpy, and
 * still stop an overflow of any other object as glibc's do. */
#include "tests/debug/checked_calls.h"
#include "tests/test_util.h"

#include <stdlib.h>
#include <sys/mman.h>

#if !defined(_FORTIFY_SOURCE) || _FORTIFY_SOURCE < 2
#error "build with -D_FORTIFY_SOURCE=2"
#endif

/* The checked calls, then STACK_MEMCPY: a memcpy into a stack buffer,
 * glibc's own check. */
typedef enum call_e {
  CHECKED_CALLS(CHECKED_CALL_ENUM) STACK_MEMCPY,
  CALL_COUNT
} call_t;

#define CHK_NAME(e, name) "__" #name "_chk",
static const char *const chk_names[] = {CHECKED_CALLS(CHK_NAME)};

/* The child's block, for the parent to check the report's address. */
static char **shared_block;

static char *volatile sink;
static volatile size_t runtime_len; /* lengths the compiler can't see */

/* Each call writes size + 1 bytes into a `size`-byte heap block (or, for
 * STACK_MEMCPY, an 8-byte stack buffer), or exactly `size` when `fits`. */
static void fortified_call(call_t which, bool fits) {
  const size_t size = 10;
  size_t n = runtime_len + (fits ? 0 : 1); /* == size (+ 1) */
  char src[32] = "0123456789abcdefghij";
  char *p = malloc(size);
  *shared_block = p;
  char *r = NULL;
  switch (which) {
  case MEMCPY:
    r = memcpy(p, src, n);
    break;
  case MEMMOVE:
    r = memmove(p, src, n);
    break;
  case MEMSET:
    r = memset(p, 'x', n);
    break;
  case STRCPY:
    src[n - 1] = '\0';
    r = strcpy(p, src);
    break;
  case STPCPY:
    src[n - 1] = '\0';
    r = stpcpy(p, src);
    break;
  case STRNCPY:
    r = strncpy(p, src, n);
    break;
  case STRCAT:
    strcpy(p, "abc");
    src[n - 4] = '\0';
    r = strcat(p, src);
    break;
  case STRNCAT:
    strcpy(p, "abc");
    r = strncat(p, src, n - 4);
    break;
  case STACK_MEMCPY: {
    char stack[8];
    memcpy(stack, src, n - 2);
    __asm__ volatile("" : : "r"(stack) : "memory");
    break;
  }
  case CALL_COUNT:
    break;
  }
  /* The bytes written are used: no call may be optimised away. */
  __asm__ volatile("" : : "r"(p) : "memory");
  sink = r;
  free(p);
}

static void overflow(void *arg) {
  fortified_call(*(call_t *)arg, false);
}

static void setup(void) {
  runtime_len = 10;
  shared_block = mmap(NULL, sizeof(*shared_block), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  cr_assert_neq(shared_block, MAP_FAILED);
}

TestSuite(fortify, .init = setup);

Test(fortify, chk_variants_report_heap_overflows) {
  for (call_t c = MEMCPY; c < STACK_MEMCPY; c++) {
    death_result_t r;
    death_run(overflow, &c, &r);
    death_assert_report(&r, "heap-buffer-overflow", *shared_block + 10);
    char text[64];
    snprintf(text, sizeof(text), " by %s goes 1 byte(s) past the end",
             chk_names[c]);
    cr_assert(strstr(r.output, text) != NULL, "report lacks \"%s\":\n%s", text,
              r.output);
    cr_assert(strstr(r.output, "allocated by thread") != NULL, "%s", r.output);
    cr_assert(strstr(r.output, "found by thread") != NULL, "%s", r.output);
  }
}

Test(fortify, other_objects_still_stop_as_glibc_does) {
  call_t c = STACK_MEMCPY;
  death_result_t r;
  death_run(overflow, &c, &r);
  cr_assert(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT,
            "status 0x%x:\n%s", r.status, r.output);
  cr_assert(strstr(r.output, "buffer overflow detected") != NULL, "%s",
            r.output);
  cr_assert(strstr(r.output, "segalloc:") == NULL, "%s", r.output);
}

Test(fortify, calls_that_fit_work) {
  size_t errors = segalloc_error_count();
  for (call_t c = MEMCPY; c < STACK_MEMCPY; c++)
    fortified_call(c, true);
  cr_assert_eq(segalloc_error_count(), errors);
}
