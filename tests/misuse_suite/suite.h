/* The misuse suite's harness (see README.md here): a case is one small
 * function with one heap bug, written with CASE(class, name, { body }) in
 * cases_c.inc or cases_cxx.inc. `misuse_c NAME` runs one case and, if the
 * program gets to its end, prints UNNOTICED and exits 0; `--list` prints
 * "name class" per case.
 *
 * Sizes and pointers go through N() and H() (volatile), so that the
 * compiler neither folds the bug away nor warns about it: the program
 * does at run time what the case says. */
#ifndef SEGALLOC_MISUSE_SUITE_H
#define SEGALLOC_MISUSE_SUITE_H

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bugs are on purpose: no warnings about them. */
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wuse-after-free"
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#pragma GCC diagnostic ignored "-Wmismatched-dealloc"

#define KB ((size_t)1 << 10)
#define MB ((size_t)1 << 20)

static volatile char suite_sink;
static inline size_t N(size_t x) {
  volatile size_t v = x;
  return v;
}
static inline char *H(void *p) {
  void *volatile v = p;
  return (char *)v;
}
static inline void rd(const void *p) {
  suite_sink = *(const volatile char *)p;
}
/* A write flips the byte (read first): a fixed value would match a keyed
 * canary byte one run in 256, and the case would pass by luck. */
static inline void wr(void *p) {
  volatile char *q = (volatile char *)p;
  *q = (char)~*q;
}

/* Source and destination for copies that read or write past a block. */
__attribute__((unused)) static char suite_buf[2 * MB + 64 * KB];

/* Makes `count` blocks of `size` bytes and frees them (or keeps them):
 * the allocator gets the chance to hand a freed block out again. */
static inline void churn(size_t count, size_t size, int keep) {
  for (size_t i = 0; i < count; i++) {
    char *q = H(malloc(N(size)));
    wr(q);
    if (!keep)
      free(q);
  }
}

typedef struct suite_case_s {
  const char *cls, *name;
  void (*run)(void);
} suite_case_t;

#define CASE(cls, name, ...) static void name(void) __VA_ARGS__
#include SUITE_CASES
#undef CASE

#define CASE(cls, name, ...) {#cls, #name, name},
static const suite_case_t suite_cases[] = {
#include SUITE_CASES
};
#undef CASE

int main(int argc, char **argv) {
  size_t count = sizeof(suite_cases) / sizeof(suite_cases[0]);
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < count; i++)
      printf("%s %s\n", suite_cases[i].name, suite_cases[i].cls);
    return 0;
  }
  for (size_t i = 0; argc == 2 && i < count; i++) {
    if (strcmp(argv[1], suite_cases[i].name) == 0) {
      suite_cases[i].run();
      printf("UNNOTICED\n");
      return 0;
    }
  }
  fprintf(stderr, "usage: %s --list | CASE\n", argv[0]);
  return 2;
}

#endif
