/* Production error reports: one line naming the error, then abort. The
 * debug build replaces this file with its full reports (debug/). */
#include "internal.h"

#include <stdlib.h>

static const char *const sa_error_names[] = {
    "double-free",
    "invalid-free",
    "heap-buffer-overflow",
    "heap-buffer-underflow",
    "use-after-free",
    "heap-corruption",
    "leak",
};

void _sa_error(sa_error_kind_t kind, const void *addr, const char *detail) {
  _sa_message("ERROR: %s on address %p: %s", sa_error_names[kind], addr,
              detail);
  abort();
}
