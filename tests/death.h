/* Runs a piece of code in a forked child with its stderr captured, so a
 * test can check both how the child died and what it printed. Criterion's
 * own death tests (.signal = ...) can't see the child's stderr.
 *
 * Usage:
 *   death_result_t r;
 *   death_run(free_bad_pointer, ptr, &r);
 *   death_assert_report(&r, "invalid-free", ptr);
 */
#ifndef SEGALLOC_TESTS_DEATH_H
#define SEGALLOC_TESTS_DEATH_H

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Seconds before a hung child is killed by SIGALRM (a failure, not a hang). */
#define DEATH_TIMEOUT 20

typedef struct death_result_s {
  int status;        /* from waitpid */
  char output[8192]; /* the child's stderr (truncated), NUL-terminated */
  char first_line[512];
} death_result_t;

/* Forks; the child runs fn(arg) with stderr going into a pipe, then exits
 * with status 0 if fn returned. The parent collects stderr and status. */
static inline void death_run(void (*fn)(void *), void *arg,
                             death_result_t *out) {
  memset(out, 0, sizeof(*out));
  int fds[2];
  cr_assert_eq(pipe(fds), 0, "pipe: %s", strerror(errno));
  fflush(NULL); /* or buffered output would be printed twice */
  pid_t pid = fork();
  cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
  if (pid == 0) {
    /* An expected abort must not leave a core file behind. */
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    close(fds[0]);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    alarm(DEATH_TIMEOUT);
    fn(arg);
    _exit(0);
  }
  close(fds[1]);
  size_t len = 0;
  for (;;) {
    char buf[1024];
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    size_t room = sizeof(out->output) - 1 - len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(out->output + len, buf, take);
    len += take;
  }
  close(fds[0]);
  while (waitpid(pid, &out->status, 0) < 0)
    cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
  size_t line = strcspn(out->output, "\n");
  if (line >= sizeof(out->first_line))
    line = sizeof(out->first_line) - 1;
  memcpy(out->first_line, out->output, line);
  out->first_line[line] = '\0';
}

/* The child died of SIGABRT and its first stderr line is the report
 * "segalloc: ERROR: <kind> on address <addr>" (addr NULL: any address). */
static inline void death_assert_report(const death_result_t *r,
                                       const char *kind, const void *addr) {
  cr_assert(WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGABRT,
            "expected death by SIGABRT, got status 0x%x; stderr:\n%s",
            r->status, r->output);
  char want[256];
  if (addr != NULL)
    snprintf(want, sizeof(want), "segalloc: ERROR: %s on address %p", kind,
             addr);
  else
    snprintf(want, sizeof(want), "segalloc: ERROR: %s on address 0x", kind);
  cr_assert(strncmp(r->first_line, want, strlen(want)) == 0,
            "first stderr line is\n  %s\nexpected it to start with\n  %s",
            r->first_line, want);
  /* The address must end where the line says so, not be a prefix of a
   * longer one. */
  if (addr != NULL) {
    char next = r->first_line[strlen(want)];
    cr_assert(next == ':' || next == '\0' || next == ' ',
              "address in the report differs: %s", r->first_line);
  }
}

/* The child exited normally with status 0 and printed nothing. */
static inline void death_assert_clean_exit(const death_result_t *r) {
  cr_assert(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0,
            "child status 0x%x; stderr:\n%s", r->status, r->output);
  cr_assert_str_empty(r->output, "unexpected stderr: %s", r->output);
}

#endif /* SEGALLOC_TESTS_DEATH_H */
