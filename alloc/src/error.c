/* Production error reports: one line naming the error, then abort. The
 * debug build replaces this file with its full reports (debug/). */
#include "internal.h"

#include <stdlib.h>

void _sa_error(sa_error_kind_t kind, const void *addr, const char *detail) {
  _sa_message("ERROR: %s on address %p: %s", sa_error_name(kind), addr, detail);
  abort();
}
