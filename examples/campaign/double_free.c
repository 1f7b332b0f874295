/* A message reader. Input: 'M', flags, body length, body, checksum. A
 * wrong checksum is an error; in strict mode (flag 0x10) the error path
 * frees the body, and the common cleanup frees it a second time. */
#include "campaign.h"

#include <stdlib.h>
#include <string.h>

void campaign_parse(const uint8_t *data, size_t size) {
  if (size < 4 || data[0] != 'M')
    return;
  unsigned flags = data[1];
  size_t len = data[2];
  if (len == 0 || len + 4 > size)
    return;
  uint8_t *body = malloc(len);
  memcpy(body, data + 3, len);
  uint8_t sum = 0;
  for (size_t i = 0; i < len; i++)
    sum = (uint8_t)(sum + body[i]);
  if (sum != data[3 + len]) {
    if (flags & 0x10)
      free(body); /* BUG: the cleanup below frees it too */
    goto cleanup;
  }
  campaign_use(body, len);
cleanup:
  free(body);
}
