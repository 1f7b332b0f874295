/* Replay driver: runs LLVMFuzzerTestOneInput on every file named on the
 * command line (directories are walked one level deep), without any fuzzing
 * engine. Used by the Bazel tests in fuzz/BUILD and for reproducing a
 * finding with a plain gcc build:
 *
 *   replay FILE_OR_DIR...
 *
 * The harness aborts on a finding, which would end the whole run; so each
 * input runs in a forked child and a failure is counted rather than fatal.
 * The last line printed is exactly "N passed, N failed"; the exit status is
 * non-zero when anything failed (or nothing ran).
 *
 * SF_REPEAT=N runs every input N times in one process instead (no fork, so
 * the first finding ends the run): for bugs that need the allocator state
 * earlier inputs leave behind, as inside a fuzzing engine. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional, as for the engines, which call it once before the first input;
 * here it runs before the first fork, so its work is done once. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static size_t passed, failed;

static int read_file(const char *path, uint8_t **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return -1;
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (buf == NULL) {
      fclose(f);
      return -1;
    }
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap)
      break;
    cap *= 2;
    buf = realloc(buf, cap);
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    free(buf);
    return -1;
  }
  *data = buf;
  *size = n;
  return 0;
}

static long repeat; /* SF_REPEAT: > 0 runs in process, that many times */

static void run_one(const char *path) {
  uint8_t *data;
  size_t size;
  if (read_file(path, &data, &size) != 0) {
    fprintf(stderr, "FAIL %s: cannot read\n", path);
    failed++;
    return;
  }
  if (repeat > 0) {
    for (long i = 0; i < repeat; i++)
      LLVMFuzzerTestOneInput(data, size);
    printf("ok   %s (%zu bytes, %ld runs)\n", path, size, repeat);
    passed++;
    free(data);
    return;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    LLVMFuzzerTestOneInput(data, size);
    _exit(0);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) < 0) {
    fprintf(stderr, "FAIL %s: cannot run\n", path);
    failed++;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    printf("ok   %s (%zu bytes)\n", path, size);
    passed++;
  } else {
    printf("FAIL %s (%zu bytes): %s %d\n", path, size,
           WIFSIGNALED(status) ? "signal" : "exit status",
           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    failed++;
  }
  free(data);
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs the regular files of a directory in name order (deterministic). */
static void run_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    fprintf(stderr, "FAIL %s: cannot open\n", dir);
    failed++;
    return;
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char **grown = realloc(names, (n + 1) * sizeof *names);
    if (grown == NULL)
      break;
    names = grown;
    if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0)
      break;
    n++;
  }
  closedir(d);
  qsort(names, n, sizeof *names, by_name);
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
      run_one(names[i]);
    free(names[i]);
  }
  free(names);
}

int main(int argc, char **argv) {
  const char *r = getenv("SF_REPEAT");
  repeat = r ? strtol(r, NULL, 10) : 0;
  if (LLVMFuzzerInitialize != NULL)
    LLVMFuzzerInitialize(&argc, &argv);
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
      run_dir(argv[i]);
    else
      run_one(argv[i]);
  }
  printf("%zu passed, %zu failed\n", passed, failed);
  return failed != 0 || passed == 0;
}
