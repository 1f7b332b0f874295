/* measure: run one command, report its wall time and peak RSS.
 *
 * Usage: measure [-T timeout_s] [-p preload.so] [-o stdout_file]
 *                [-e stderr_file] [-E NAME=VALUE]... [-A max_mib]
 *                -- program [args...]
 *
 * Prints one line on stdout: "<status> <wall_s> <maxrss_kib> <user_s>
 * <sys_s> <minflt>", where status is "ok", "exit:N", "signal:N" or
 * "timeout" and minflt is the minor page faults of the child and the
 * children it waited for. -E sets an environment variable in the child
 * only (an allocator's options); -A caps the child's address space
 * (RLIMIT_AS), for allocators that never reuse freed memory and would
 * otherwise take the shared machine's RAM.
 *
 * Why a wrapper of our own rather than /usr/bin/time: no extra package, and
 * LD_PRELOAD is set only in the child, so the allocator under test is never
 * loaded into the thing doing the measuring. wait4() returns the child's
 * rusage; for a child that itself waits for children (gcc -> cc1) Linux
 * reports the largest ru_maxrss among them, which is the peak we want.
 * The child runs in its own process group so a timeout can kill everything
 * it spawned. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_alarm;
static volatile sig_atomic_t got_term;

static void on_alarm(int sig) {
  (void)sig;
  got_alarm = 1;
}

static void on_term(int sig) {
  (void)sig;
  got_term = 1;
}

static void redirect(int fd, const char *path, int flags) {
  int f = open(path, flags, 0644);
  if (f < 0) {
    perror(path);
    _exit(126);
  }
  dup2(f, fd);
  close(f);
}

static double tv_sec(struct timeval tv) {
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  unsigned timeout = 0;
  const char *preload = NULL, *out = "/dev/null", *err = NULL;
  char *env[16];
  int nenv = 0;
  unsigned long max_mib = 0;
  int opt;
  while ((opt = getopt(argc, argv, "+T:p:o:e:E:A:")) != -1) {
    switch (opt) {
    case 'T':
      timeout = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'p':
      preload = optarg;
      break;
    case 'o':
      out = optarg;
      break;
    case 'e':
      err = optarg;
      break;
    case 'E':
      if (nenv == 16 || strchr(optarg, '=') == NULL) {
        fprintf(stderr, "measure: -E NAME=VALUE, at most 16\n");
        return 64;
      }
      env[nenv++] = optarg;
      break;
    case 'A':
      max_mib = strtoul(optarg, NULL, 10);
      break;
    default:
      fprintf(stderr, "usage: measure [-T s] [-p so] [-o out] [-e err] "
                      "[-E NAME=VALUE] [-A mib] -- cmd [args]\n");
      return 64;
    }
  }
  if (optind >= argc) {
    fprintf(stderr, "measure: no command given\n");
    return 64;
  }

  /* No SA_RESTART: the alarm must interrupt wait4(). */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, NULL);
  sa.sa_handler = on_term;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 70;
  }
  if (pid == 0) {
    setpgid(0, 0);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (preload != NULL && *preload != '\0') {
      setenv("LD_PRELOAD", preload, 1);
    } else {
      unsetenv("LD_PRELOAD");
    }
    for (int i = 0; i < nenv; i++) {
      putenv(env[i]);
    }
    if (max_mib > 0) {
      struct rlimit rl = {max_mib << 20, max_mib << 20};
      setrlimit(RLIMIT_AS, &rl);
    }
    redirect(0, "/dev/null", O_RDONLY);
    redirect(1, out, O_WRONLY | O_CREAT | O_TRUNC);
    if (err != NULL) {
      redirect(2, err, O_WRONLY | O_CREAT | O_TRUNC);
    }
    execvp(argv[optind], &argv[optind]);
    perror(argv[optind]);
    _exit(127);
  }
  setpgid(pid, pid); /* also in the parent, to win the race with exec */
  if (timeout > 0) {
    alarm(timeout);
  }

  int status = 0, timed_out = 0;
  struct rusage ru;
  for (;;) {
    pid_t r = wait4(pid, &status, 0, &ru);
    if (r == pid) {
      break;
    }
    if (r < 0 && errno != EINTR) {
      perror("wait4");
      return 70;
    }
    if (got_alarm || got_term) {
      timed_out = got_alarm;
      kill(-pid, SIGKILL);
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  /* Leave nothing behind (e.g. a cc1 orphaned by a crashing gcc driver). */
  kill(-pid, SIGKILL);

  double wall =
      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  char st[32];
  if (timed_out) {
    snprintf(st, sizeof st, "timeout");
  } else if (WIFSIGNALED(status)) {
    snprintf(st, sizeof st, "signal:%d", WTERMSIG(status));
  } else if (WEXITSTATUS(status) != 0) {
    snprintf(st, sizeof st, "exit:%d", WEXITSTATUS(status));
  } else {
    snprintf(st, sizeof st, "ok");
  }
  printf("%s %.4f %ld %.3f %.3f %ld\n", st, wall, ru.ru_maxrss,
         tv_sec(ru.ru_utime), tv_sec(ru.ru_stime), ru.ru_minflt);
  return got_term ? 130 : 0;
}
