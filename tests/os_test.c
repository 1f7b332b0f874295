/* What segalloc does with the OS, seen from the program: free and realloc
 * leave errno alone (POSIX 2024), also when they unmap memory or when a
 * mapping failed on the way to a success; and under an address-space limit
 * (ulimit -v, AFL++ -m) almost all of the budget becomes usable blocks,
 * and what the caches held is given back before malloc fails. */
#include "tests/test_util.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define SENTINEL 4321 /* no real errno value */

#define assert_errno_kept(what, size)                                          \
  cr_assert_eq(errno, SENTINEL, "%s(%zu) changed errno to %d (%s)", what,      \
               (size_t)(size), errno, strerror(errno))

Test(os, free_and_realloc_keep_errno) {
  const size_t sizes[] = {1,         100,     8 * KiB,  60 * KiB, 300 * KiB,
                          600 * KiB, 3 * MiB, 20 * MiB, 70 * MiB};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    size_t size = sizes[i];
    errno = SENTINEL;
    uint8_t *p = segalloc_malloc(size);
    cr_assert_not_null(p);
    assert_errno_kept("malloc", size);
    p[size - 1] = 1;
    p = segalloc_realloc(p, size * 3); /* grows, moves or remaps */
    cr_assert_not_null(p);
    assert_errno_kept("realloc up from", size);
    p = segalloc_realloc(p, size / 4 + 1); /* shrinks, may unmap a tail */
    cr_assert_not_null(p);
    assert_errno_kept("realloc down from", size);
    segalloc_free(p);
    assert_errno_kept("free", size);
  }
  /* More huge frees than the huge cache keeps: the oldest are unmapped. */
  void *blocks[64];
  for (size_t i = 0; i < 64; i++) {
    blocks[i] = segalloc_malloc(MiB + i * 64 * KiB);
    cr_assert_not_null(blocks[i]);
  }
  errno = SENTINEL;
  for (size_t i = 0; i < 64; i++) {
    segalloc_free(blocks[i]);
    assert_errno_kept("free of huge block", MiB + i * 64 * KiB);
  }
}

/* The process's current address space, from /proc/self/status. */
static size_t vm_size(void) {
  FILE *f = fopen("/proc/self/status", "r");
  cr_assert_not_null(f);
  char line[256];
  size_t kib = 0;
  while (fgets(line, sizeof(line), f) != NULL)
    if (sscanf(line, "VmSize: %zu kB", &kib) == 1)
      break;
  fclose(f);
  cr_assert_gt(kib, 0);
  return kib * KiB;
}

static void set_soft_as_limit(rlim_t limit) {
  struct rlimit rl;
  cr_assert_eq(getrlimit(RLIMIT_AS, &rl), 0);
  rl.rlim_cur = limit;
  cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0, "setrlimit: %s", strerror(errno));
}

#define BUDGET (256 * MiB)
#define BLOCK ((size_t)1000 * 1000) /* a 1 MB buffer, as Python's */
#define MAX_BLOCKS (BUDGET / BLOCK + 1)

/* Each test runs in a process of its own (Criterion), so the limit stays
 * in it; it is lifted before anything is asserted. */
Test(os, address_space_limit_is_used_and_caches_given_back) {
  static void *blocks[MAX_BLOCKS];
  void *warm = segalloc_malloc(100); /* the heap exists before the limit */
  cr_assert_not_null(warm);
  size_t start = vm_size();
  set_soft_as_limit(start + BUDGET);
  size_t count = 0;
  errno = 0;
  while (count < MAX_BLOCKS && (blocks[count] = segalloc_malloc(BLOCK)))
    count++;
  int failed_errno = errno;
  /* Free a few blocks (more than the debug quarantine holds), so the huge
   * cache keeps some: a larger block fits only once they are unmapped,
   * after a failed mapping, and errno must not show that. */
  size_t freed = count < 12 ? count : 12;
  errno = SENTINEL;
  for (size_t i = 0; i < freed; i++)
    segalloc_free(blocks[count - 1 - i]);
  int free_errno = errno;
  void *bigger = segalloc_malloc(3 * BLOCK);
  int bigger_errno = errno;
  set_soft_as_limit(RLIM_INFINITY);

  cr_log_info("%zu blocks of %zu bytes in a budget of %zu MiB", count, BLOCK,
              BUDGET / MiB);
  cr_assert_lt(count, MAX_BLOCKS, "the limit never stopped malloc");
  cr_assert_eq(failed_errno, ENOMEM);
  cr_assert_geq(count * BLOCK, BUDGET / 100 * 95,
                "only %zu MB of a %zu MB address-space budget became blocks",
                count * BLOCK / 1000000, BUDGET / 1000000);
  cr_assert_eq(free_errno, SENTINEL, "free changed errno to %d", free_errno);
  cr_assert_not_null(bigger, "malloc(%zu) failed with %zu bytes freed",
                     3 * BLOCK, freed * BLOCK);
  cr_assert_eq(bigger_errno, SENTINEL,
               "a malloc that succeeded changed errno to %d", bigger_errno);
  segalloc_free(bigger);
  for (size_t i = 0; i + freed < count; i++)
    segalloc_free(blocks[i]);
  segalloc_free(warm);
  heap_assert_ok();
}

/* A request no system can satisfy (as fuzzers and size checks make) fails
 * alone: the mappings made after it (huge blocks, which the kernel may place
 * anywhere) must not cost the blocks of free pages their memory. Mostly
 * free segments first, then the failure, then huge blocks, then every
 * class again. */
Test(os, a_failed_absurd_request_leaves_other_sizes_working) {
  enum { SMALL = 4096 };
  static void *blocks[SMALL];
  for (int round = 0; round < 8; round++) {
    for (size_t i = 0; i < SMALL; i++)
      cr_assert_not_null(blocks[i] = segalloc_malloc(16 + (i % 64) * 2048));
    for (size_t i = 0; i < SMALL; i++)
      if (i % 16 != 0)
        segalloc_free(blocks[i]);
    errno = 0;
    cr_assert_null(segalloc_malloc(SIZE_MAX / 2 - 4096));
    cr_assert_eq(errno, ENOMEM);
    void *huge[16];
    for (size_t i = 0; i < 16; i++)
      cr_assert_not_null(huge[i] = segalloc_malloc(200 * KiB + i * 100 * KiB));
    /* Other mappings of the process, anywhere the kernel finds room. */
    enum { OTHERS = 2048 };
    static void *others[OTHERS];
    for (size_t i = 0; i < OTHERS; i++)
      cr_assert_neq(others[i] = mmap(NULL, 64 * KiB, PROT_READ | PROT_WRITE,
                                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
                    MAP_FAILED);
    for (size_t size = 16; size <= 1 * MiB; size = size * 5 / 4 + 16) {
      void *p = segalloc_malloc(size);
      cr_assert_not_null(p, "malloc(%zu) failed after the absurd request",
                         size);
      segalloc_free(p);
    }
    for (size_t i = 0; i < 16; i++)
      segalloc_free(huge[i]);
    for (size_t i = 0; i < OTHERS; i++)
      munmap(others[i], 64 * KiB);
    for (size_t i = 0; i < SMALL; i += 16)
      segalloc_free(blocks[i]);
  }
}
