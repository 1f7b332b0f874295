/* A program for the options test: runs one scenario against the debug
 * build, whose options come from the environment the test sets. */
#include "segalloc_debug.h"

#include <stdio.h>
#include <string.h>

static void overflow_then_free(void) {
  char *p = segalloc_malloc(10);
  ((volatile char *)p)[10] = 1;
  segalloc_free(p);
}

/* SEGALLOC_CHECK_EVERY: found at a later call, before any free. */
static void overflow_then_malloc(void) {
  char *p = segalloc_malloc(10);
  ((volatile char *)p)[10] = 1;
  for (int i = 0; i < 10; i++)
    segalloc_malloc(10);
}

/* 32 bytes past an 8-byte block: past its footer, into the next block. */
static void overflow_32_never_freed(void) {
  volatile char *p = segalloc_malloc(8);
  segalloc_malloc(8);
  for (int i = 8; i < 8 + 32; i++)
    p[i] = 'x';
}

static void underflow_never_freed(void) {
  char *p = segalloc_malloc(24);
  ((volatile char *)p)[-1] = 1;
}

static void free_flush_free(void) {
  char *p = segalloc_malloc(10);
  segalloc_free(p);
  segalloc_free(p);
}

static void print_new_byte(void) {
  unsigned char *p = segalloc_malloc(64);
  printf("0x%02x\n", p[63]);
  segalloc_free(p);
}

/* Written after free, still in quarantine when the program ends. */
static void write_after_free(void) {
  char *p = segalloc_malloc(40);
  segalloc_free(p);
  ((volatile char *)p)[5] = 1;
}

static void leak_one(void) {
  segalloc_malloc(42);
}

int main(int argc, char **argv) {
  static const struct {
    const char *name;
    void (*run)(void);
  } scenarios[] = {
      {"overflow-then-free", overflow_then_free},
      {"overflow-then-malloc", overflow_then_malloc},
      {"double-free", free_flush_free},
      {"print-new-byte", print_new_byte},
      {"leak-one", leak_one},
      {"write-after-free", write_after_free},
      {"overflow-32-never-freed", overflow_32_never_freed},
      {"underflow-never-freed", underflow_never_freed},
  };
  for (size_t i = 0; argc == 2 && i < sizeof(scenarios) / sizeof(*scenarios);
       i++) {
    if (strcmp(argv[1], scenarios[i].name) == 0) {
      scenarios[i].run();
      printf("survived\n");
      return 0;
    }
  }
  fprintf(stderr, "usage: %s SCENARIO\n", argv[0]);
  return 2;
}
