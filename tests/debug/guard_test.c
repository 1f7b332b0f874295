/* Guard pages (SEGALLOC_GUARD): each misuse is reported at the access
 * that commits it, with the right kind, READ or WRITE, the offset and
 * size, and the backtraces of the access, the allocation and the free.
 * Each case runs scenario_main in a fresh process with the options set. */
#include "tests/debug/run_scenario.h"
#include "tests/test_util.h"

#include <stdlib.h>

/* Built with --config=asan: ASan's SIGSEGV handler is installed first. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* The fault report: first line exact, then "<MODE> at offset <off> of the
 * [freed ]<size>-byte guarded block at <block>" with the reported address
 * equal to block + off, then the access backtrace, then the block's. */
static void assert_fault(const death_result_t *r, const char *kind,
                         const char *mode, long offset, const char *block) {
  death_assert_report(r, kind, NULL);
  void *addr = NULL, *start = NULL;
  char want[200];
  cr_assert_eq(
      sscanf(r->first_line, "segalloc: ERROR: %*s on address %p", &addr), 1,
      "%s", r->first_line);
  snprintf(want, sizeof(want), "segalloc: %s at offset %ld of the %s", mode,
           offset, block);
  const char *line = strstr(r->output, want);
  cr_assert_not_null(line, "no line \"%s\":\n%s", want, r->output);
  cr_assert(line == strchr(r->output, '\n') + 1, "not the 2nd line:\n%s",
            r->output);
  cr_assert_eq(sscanf(line + strlen(want), "-byte guarded block at %p", &start),
               1, "%s", line);
  cr_assert_eq((char *)addr, (char *)start + offset);
  const char *access = strstr(r->output, "segalloc: accessed by thread");
  const char *alloc = strstr(r->output, "segalloc: allocated by thread");
  cr_assert(access != NULL && alloc != NULL && access < alloc,
            "backtraces missing or out of order:\n%s", r->output);
  cr_assert(strstr(access, "    #0 0x") != NULL, "%s", r->output);
  cr_assert(strstr(alloc, "scenario_main") != NULL, "%s", r->output);
}

#define ALL "SEGALLOC_GUARD=all"

/* A process that went on after the report: it came first all the same. */
static void assert_starts_with_overflow(const death_result_t *r) {
  const char *want = "segalloc: ERROR: heap-buffer-overflow on address 0x";
  cr_assert(strncmp(r->output, want, strlen(want)) == 0, "%s", r->output);
}

Test(guard, overflow_write_at_the_access) {
  death_result_t r = run_scenario("overflow-write", ALL, NULL);
  assert_fault(&r, "heap-buffer-overflow", "WRITE", 16, "13");
}

Test(guard, overflow_read_at_the_access) {
  death_result_t r = run_scenario("overflow-read", ALL, NULL);
  assert_fault(&r, "heap-buffer-overflow", "READ", 20, "13");
}

/* malloc, calloc and realloc under 16 bytes: aligned only as C asks, so
 * the end of a block of 1, 2, 4 or 8 bytes is the guard. */
Test(guard, small_blocks_aligned_as_c_asks_end_nearer_the_guard) {
  death_result_t r = run_scenario("guarded-alignment", ALL, NULL);
  assert_exit(&r, 0);
  assert_has(&r, "aligned as C asks\n");
  r = run_scenario("overflow-read-8-by-1", ALL, NULL);
  assert_fault(&r, "heap-buffer-overflow", "READ", 8, "8");
}

Test(guard, underflow_with_the_guard_on_the_left) {
  death_result_t r =
      run_scenario("underflow-write", ALL, "SEGALLOC_GUARD_SIDE=left");
  assert_fault(&r, "heap-buffer-underflow", "WRITE", -1, "13");
  r = run_scenario("underflow-read", ALL, "SEGALLOC_GUARD_SIDE=left");
  assert_fault(&r, "heap-buffer-underflow", "READ", -4, "100");
}

Test(guard, underflow_into_a_neighbours_guard_blames_the_nearer_block) {
  death_result_t r =
      run_scenario("underflow-into-the-previous-guard", ALL, NULL);
  assert_fault(&r, "heap-buffer-underflow", "WRITE", -2, "4096");
}

/* Before the first run and after the last, the pages are no block's:
 * the access is blamed on the block beside them. */
Test(guard, the_pages_around_all_runs_blame_the_block_beside) {
  death_result_t r = run_scenario("underflow-of-the-first-block", ALL, NULL);
  assert_fault(&r, "heap-buffer-underflow", "WRITE", -2, "4096");
  r = run_scenario("overflow-of-the-last-block", ALL,
                   "SEGALLOC_GUARD_SIDE=left");
  assert_fault(&r, "heap-buffer-overflow", "WRITE", 4097, "4096");
}

/* On the left, the rest of the block's last page is its footer, all of
 * it checked at free. */
Test(guard, overflow_far_into_the_footer_found_at_free) {
  death_result_t r = run_scenario("overflow-far-into-the-footer", ALL,
                                  "SEGALLOC_GUARD_SIDE=left");
  death_assert_report(&r, "heap-buffer-overflow", NULL);
  assert_has(&r, "past the end of the 100-byte block at");
  assert_has(&r, "the first at offset 3100");
}

/* On the right, an underflow into the slack before the block is found at
 * free, as with canaries. */
/* Around the pool, address space no one may use: a wild write 1 MiB
 * before the first block faults (no block to blame: the program dies as
 * it would without segalloc, or ASan reports), and can't land in the
 * pool's tables. */
Test(guard, a_wild_write_near_the_pool_faults) {
  death_result_t r = run_scenario("underflow-1m-of-the-first-block", ALL, NULL);
  cr_assert(!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0,
            "status 0x%x:\n%s", r.status, r.output);
  cr_assert_null(strstr(r.output, "survived"), "%s", r.output);
}

Test(guard, underflow_on_the_right_found_by_the_head) {
  death_result_t r = run_scenario("underflow-write", ALL, NULL);
  death_assert_report(&r, "heap-buffer-underflow", NULL);
  assert_has(&r, "1 byte(s) written just before the 13-byte block");
}

Test(guard, use_after_free_read_and_write) {
  death_result_t r = run_scenario("use-after-free-read", ALL, NULL);
  assert_fault(&r, "use-after-free", "READ", 39, "freed 40");
  assert_has(&r, "segalloc: freed by thread");
  r = run_scenario("use-after-free-write", ALL, NULL);
  assert_fault(&r, "use-after-free", "WRITE", 0, "freed 5000");
  assert_has(&r, "segalloc: freed by thread");
}

Test(guard, malloc0_faults_on_any_access) {
  death_result_t r = run_scenario("malloc0-read", ALL, NULL);
  assert_fault(&r, "heap-buffer-overflow", "READ", 0, "0");
  r = run_scenario("malloc0-write-after-free", ALL, NULL);
  assert_fault(&r, "use-after-free", "WRITE", 0, "freed 0");
}

Test(guard, realloc_moves_so_a_stale_pointer_is_use_after_free) {
  death_result_t r = run_scenario("realloc-stale", ALL, NULL);
  assert_fault(&r, "use-after-free", "WRITE", 0, "freed 8");
  /* Without guards, the quarantine finds it. */
  r = run_scenario("realloc-stale", "SEGALLOC_GUARD=off", NULL);
  death_assert_report(&r, "use-after-free", NULL);
  cr_assert(strstr(r.output, "did not move") == NULL, "%s", r.output);
}

Test(guard, huge_double_free_after_release_is_double_free) {
  death_result_t r =
      run_scenario("huge-double-free", "SEGALLOC_GUARD=off", NULL);
  death_assert_report(&r, "double-free", NULL);
  assert_has(&r, "the 3145728-byte block at");
  assert_has(&r, "memory given back");
  assert_has(&r, "segalloc: freed by thread");
}

Test(guard, a_foreign_fault_goes_to_the_previous_handler) {
  death_result_t r = run_scenario("foreign-fault-chains", ALL, NULL);
  assert_exit(&r, 42);
  cr_assert_str_empty(r.output);
  r = run_scenario("foreign-fault-default", ALL, NULL);
#ifdef UNDER_ASAN
  /* Under --config=asan the handler before ours is ASan's: it reports. */
  cr_assert(strstr(r.output, "AddressSanitizer: SEGV") != NULL,
            "status 0x%x:\n%s", r.status, r.output);
#else
  cr_assert(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGSEGV,
            "status 0x%x:\n%s", r.status, r.output);
  cr_assert_str_empty(r.output);
#endif
}

Test(guard, map_count_limit_falls_back_to_canaries, .timeout = 60) {
  death_result_t r = run_scenario("many-blocks", ALL, NULL);
  assert_exit(&r, 0);
  const char *say = "segalloc: guard pages unavailable (near the kernel's "
                    "limit of mappings, vm.max_map_count); new blocks get "
                    "canaries instead\n";
  const char *first = strstr(r.output, say);
  cr_assert_not_null(first, "%s", r.output);
  cr_assert_null(strstr(first + 1, say), "said twice");
  assert_has(&r, "all blocks fine\nsurvived\n");
}

Test(guard, report_mode_goes_on_after_a_fault) {
  death_result_t r =
      run_scenario("overflow-then-continue", ALL, "SEGALLOC_ON_ERROR=report");
  assert_exit(&r, 0);
  assert_starts_with_overflow(&r);
  assert_has(&r, "READ at offset 16 of the 13-byte guarded block");
  assert_has(&r, "continued\n");
}

Test(guard, threads_and_their_alternate_stacks) {
  death_result_t r = run_scenario("threads-then-overflow", ALL, NULL);
  assert_fault(&r, "heap-buffer-overflow", "WRITE", 320, "299");
}

Test(guard, fork_child_keeps_the_guards) {
  death_result_t r = run_scenario("fork-then-overflow", ALL, NULL);
  assert_exit(&r, 0);
  assert_starts_with_overflow(&r);
  assert_has(&r, "child aborted\nsurvived\n");
}

Test(guard, walk_usable_size_and_leak_check) {
  death_result_t r = run_scenario("walk-and-leak", ALL, "SEGALLOC_LEAKS=1");
  assert_exit(&r, 23);
  assert_has(&r, "walked 42\n");
  assert_has(&r, "walked 20000\n");
  assert_has(&r, "usable 42 20000\n");
  assert_has(&r, "segalloc: ERROR: leak on address 0x");
  assert_has(&r, "42-byte block");
}

Test(guard, bad_options_stop_the_program) {
  const char *bad[] = {"SEGALLOC_GUARD=some",     "SEGALLOC_GUARD=sample:0",
                       "SEGALLOC_GUARD=sample:",  "SEGALLOC_GUARD=sample:1k",
                       "SEGALLOC_GUARD=sites:0",  "SEGALLOC_GUARD=sites:",
                       "SEGALLOC_GUARD=sites:-1", "SEGALLOC_GUARD=site:9"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    death_result_t r = run_scenario("overflow-write", bad[i], NULL);
    cr_assert(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT, "%s",
              bad[i]);
    assert_has(&r, "segalloc: ERROR: bad option SEGALLOC_GUARD=");
  }
  death_result_t r =
      run_scenario("overflow-write", ALL, "SEGALLOC_GUARD_SIDE=up");
  assert_has(&r, "segalloc: ERROR: bad option SEGALLOC_GUARD_SIDE=up");
}

/* The default, sites:4000, guards the first block of each call site: a
 * short program's bug is found at the access. After the first block of a
 * site, its blocks are not guarded; the first from a new site is
 * (sampling one in 10^9: no block by chance). */
Test(guard, sites_guard_the_first_block_of_each_site) {
  death_result_t r = run_scenario("overflow-read", NULL, NULL);
  assert_fault(&r, "heap-buffer-overflow", "READ", 20, "13");
  r = run_scenario("sites", "SEGALLOC_GUARD=sites:1000000000", NULL);
  assert_fault(&r, "heap-buffer-overflow", "READ", 20, "13");
}

/* sample:N is sampling alone: the first block of each thread is never
 * sampled. */
Test(guard, sample_alone_leaves_the_first_block) {
  death_result_t r =
      run_scenario("overflow-read", "SEGALLOC_GUARD=sample:1000", NULL);
  assert_exit(&r, 0);
  assert_has(&r, "survived\n");
}

/* Sampling guards about one block in N: with N = 2, a few of 300. */
Test(guard, sampling_guards_some_blocks) {
  death_result_t r =
      run_scenario("many-blocks", "SEGALLOC_GUARD=sample:2", NULL);
  assert_exit(&r, 0);
  assert_has(&r, "all blocks fine\n");
}
