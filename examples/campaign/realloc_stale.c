/* A line store. Input: 'L', then text. Each line is stored as a length
 * byte then its characters in one growing buffer. The length byte's
 * address is kept while the line is copied in; when the copy grows the
 * buffer (realloc moves it), the length is still written through the old
 * address, into the freed block. */
#include "campaign.h"

#include <stdlib.h>

void campaign_parse(const uint8_t *data, size_t size) {
  if (size < 2 || data[0] != 'L')
    return;
  size_t cap = 16, used = 0;
  uint8_t *buf = malloc(cap);
  uint8_t *len_at = NULL;
  for (size_t i = 1; i < size; i++) {
    if (used + 2 > cap) {
      cap *= 2;
      buf = realloc(buf, cap); /* BUG: len_at still points into the old */
    }
    if (len_at == NULL) {
      len_at = buf + used++;
      *len_at = 0;
    }
    if (data[i] == '\n') {
      *len_at = (uint8_t)(buf + used - len_at - 1);
      len_at = NULL;
    } else {
      buf[used++] = data[i];
    }
  }
  campaign_use(buf, used);
  free(buf);
}
