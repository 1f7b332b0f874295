/* Runs one scenario of scenario_main in a fresh process, with up to two
 * options ("NAME=value") in its environment and SEGALLOC_GUARD unset
 * otherwise, its stdout and stderr captured together (death.h). */
#ifndef SEGALLOC_TESTS_DEBUG_RUN_SCENARIO_H
#define SEGALLOC_TESTS_DEBUG_RUN_SCENARIO_H

#include "tests/death.h"

#include <stdlib.h>

typedef struct scenario_run_s {
  const char *env[2]; /* each "NAME=value" or NULL */
  const char *scenario;
} scenario_run_t;

static inline void scenario_exec(void *arg) {
  const scenario_run_t *r = arg;
  unsetenv("SEGALLOC_GUARD");
  for (int i = 0; i < 2; i++)
    if (r->env[i] != NULL)
      putenv((char *)r->env[i]);
  /* stdout too, so that the test sees "survived" and printed values. */
  dup2(STDERR_FILENO, STDOUT_FILENO);
  execl("tests/debug/scenario_main", "scenario_main", r->scenario,
        (char *)NULL);
  perror("exec tests/debug/scenario_main");
  _exit(127);
}

static inline death_result_t run_scenario(const char *scenario,
                                          const char *env0, const char *env1) {
  scenario_run_t r = {{env0, env1}, scenario};
  death_result_t out;
  death_run(scenario_exec, &r, &out);
  return out;
}

static inline void assert_has(const death_result_t *r, const char *text) {
  cr_assert(strstr(r->output, text) != NULL, "output lacks \"%s\":\n%s", text,
            r->output);
}

static inline void assert_exit(const death_result_t *r, int code) {
  cr_assert(WIFEXITED(r->status) && WEXITSTATUS(r->status) == code,
            "expected exit %d, status 0x%x:\n%s", code, r->status, r->output);
}

#endif /* SEGALLOC_TESTS_DEBUG_RUN_SCENARIO_H */
