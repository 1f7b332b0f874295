/* A type-length-value reader. Input: 'T', then records of [type][length]
 * [value]. Type 'B' (a blob) gets a buffer of the declared length but
 * copies every byte up to the next record's marker '|' (at most 64): a
 * value longer than declared overflows the buffer. */
#include "campaign.h"

#include <stdlib.h>
#include <string.h>

void campaign_parse(const uint8_t *data, size_t size) {
  if (size < 1 || data[0] != 'T')
    return;
  size_t at = 1;
  while (at + 2 <= size) {
    uint8_t type = data[at];
    size_t len = data[at + 1];
    at += 2;
    const uint8_t *end = memchr(data + at, '|', size - at);
    size_t avail = end != NULL ? (size_t)(end - (data + at)) : size - at;
    if (type == 'B') {
      uint8_t *blob = malloc(len);
      memcpy(blob, data + at, avail < 64 ? avail : 64); /* BUG: not len */
      campaign_use(blob, len);
      free(blob);
    } else if (type == 'S') {
      char *s = malloc(len + 1);
      size_t n = len < avail ? len : avail;
      memcpy(s, data + at, n);
      s[n] = '\0';
      campaign_use(s, n);
      free(s);
    }
    at += avail + 1;
  }
}
