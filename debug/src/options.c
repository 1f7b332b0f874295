/* The debug build's options, read from the environment once, at the
 * core's init (before the first block); and the per-process secret that
 * keys the canaries. */
#include "debug.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

sa_dbg_options_t _sa_dbg_options = {
    .abort_on_error = true,
    .quarantine_bytes = (size_t)4 << 20, /* per thread */
    .junk = 0xbe,
    .guard_every = 4000, /* sites:4000, see README "Costs" */
    .guard_sites = true,
};

/* A bad value must not pass as the default: say which and stop. */
static void bad_option(const char *name, const char *value,
                       const char *expected) {
  _sa_message("ERROR: bad option %s=%s (expected %s)", name, value, expected);
  abort();
}

/* A decimal or 0x number with an optional K, M or G suffix. */
static bool parse_size(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(s, &end, 0);
  if (errno != 0 || end == s || *s == '-')
    return false;
  unsigned shift = 0;
  switch (*end) {
  case 'K':
  case 'k':
    shift = 10, end++;
    break;
  case 'M':
  case 'm':
    shift = 20, end++;
    break;
  case 'G':
  case 'g':
    shift = 30, end++;
    break;
  }
  if (*end != '\0' || (shift != 0 && n > (UINT64_MAX >> shift)))
    return false;
  *out = (uint64_t)n << shift;
  return true;
}

void _sa_dbg_read_options(void) {
  sa_dbg_options_t *o = &_sa_dbg_options;
  const char *v;
  uint64_t n;
  if ((v = getenv("SEGALLOC_ON_ERROR")) != NULL) {
    if (strcmp(v, "abort") == 0)
      o->abort_on_error = true;
    else if (strcmp(v, "report") == 0)
      o->abort_on_error = false;
    else
      bad_option("SEGALLOC_ON_ERROR", v, "abort or report");
  }
  if ((v = getenv("SEGALLOC_QUARANTINE_BYTES")) != NULL) {
    if (!parse_size(v, &n) || n > PTRDIFF_MAX)
      bad_option("SEGALLOC_QUARANTINE_BYTES", v, "a size such as 0, 4096, 64M");
    o->quarantine_bytes = (size_t)n;
  }
  if ((v = getenv("SEGALLOC_JUNK")) != NULL) {
    if (strcmp(v, "off") == 0)
      o->junk = -1;
    else if (parse_size(v, &n) && n <= 255 && strpbrk(v, "KkMmGg") == NULL)
      o->junk = (int)n;
    else
      bad_option("SEGALLOC_JUNK", v, "a byte 0..255 (e.g. 0xbe) or off");
  }
  if ((v = getenv("SEGALLOC_LEAKS")) != NULL) {
    if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
      bad_option("SEGALLOC_LEAKS", v, "0 or 1");
    o->leaks_at_exit = v[0] == '1';
  }
  if ((v = getenv("SEGALLOC_CHECK_EVERY")) != NULL) {
    if (!parse_size(v, &n) || strpbrk(v, "KkMmGg") != NULL)
      bad_option("SEGALLOC_CHECK_EVERY", v, "a number of calls, 0 for never");
    o->check_every = n;
  }
  if ((v = getenv("SEGALLOC_GUARD")) != NULL) {
    bool sites = strncmp(v, "sites:", 6) == 0;
    const char *every = sites                           ? v + 6
                        : strncmp(v, "sample:", 7) == 0 ? v + 7
                                                        : NULL;
    o->guard_sites = sites;
    if (strcmp(v, "off") == 0)
      o->guard_every = 0;
    else if (strcmp(v, "all") == 0)
      o->guard_every = 1;
    else if (every != NULL && parse_size(every, &n) && n >= 1 &&
             n <= UINT32_MAX && strpbrk(every, "KkMmGg") == NULL)
      o->guard_every = (uint32_t)n;
    else
      bad_option("SEGALLOC_GUARD", v,
                 "off, all, sample:N or sites:N with N >= 1");
  }
  if ((v = getenv("SEGALLOC_GUARD_SIDE")) != NULL) {
    if (strcmp(v, "right") != 0 && strcmp(v, "left") != 0)
      bad_option("SEGALLOC_GUARD_SIDE", v, "right or left");
    o->guard_left = v[0] == 'l';
  }
  /* 16 random bytes the kernel gives every process: no system call. */
  const void *random = (const void *)getauxval(AT_RANDOM);
  uint64_t words[2] = {(uint64_t)(uintptr_t)o * 0x9e3779b97f4a7c15, 0};
  if (random != NULL) /* no alignment promised: copy, don't load */
    memcpy(words, random, sizeof(words));
  o->secret = words[0] ^ words[1];
  _sa_dbg_keys_init(o->secret);
}
