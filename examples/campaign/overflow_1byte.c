/* A key=value record parser. Input: 'K', version (1 or 2), then records of
 * [length][bytes]. A quoted value ("...") is stored without its quotes,
 * NUL-terminated, in a buffer one byte too short: the terminator is
 * written 1 byte past the block. */
#include "campaign.h"

#include <stdlib.h>
#include <string.h>

static void record(const uint8_t *v, size_t len) {
  char *s;
  /* Not "": ASan gives malloc(0) a byte, and would miss the bug there. */
  if (len >= 3 && v[0] == '"' && v[len - 1] == '"') {
    s = malloc(len - 2); /* BUG: no room for the NUL */
    memcpy(s, v + 1, len - 2);
    s[len - 2] = '\0';
    campaign_use(s, len - 2);
  } else {
    s = malloc(len + 1);
    memcpy(s, v, len);
    s[len] = '\0';
    campaign_use(s, len);
  }
  free(s);
}

void campaign_parse(const uint8_t *data, size_t size) {
  if (size >= 2 && data[0] == 'K' && (data[1] == 1 || data[1] == 2)) {
    size_t at = 2;
    while (at < size) {
      size_t len = data[at++];
      if (len > size - at)
        break;
      record(data + at, len);
      at += len;
    }
  }
}
