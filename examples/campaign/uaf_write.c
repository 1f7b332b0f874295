/* A session table driven by commands: 'O' s opens session s (0-7), 'C' s
 * closes it, 'T' s times it out, 'W' s b appends byte b to its buffer.
 * A timed-out session is freed at once but stays in the table, marked
 * dead, for the log; 'W' forgets to look at the mark and writes into the
 * freed block. */
#include "campaign.h"

#include <stdbool.h>
#include <stdlib.h>

typedef struct session_s {
  uint64_t id;
  uint64_t opened; /* the first 16 bytes are what glibc reuses when freed */
  uint32_t len;
  uint8_t buf[28];
} session_t;

void campaign_parse(const uint8_t *data, size_t size) {
  session_t *table[8] = {0};
  bool dead[8] = {0};
  size_t i = 0;
  while (i + 1 < size) {
    uint8_t op = data[i], s = data[i + 1] & 7;
    i += 2;
    switch (op) {
    case 'O':
      if (table[s] == NULL || dead[s]) {
        table[s] = calloc(1, sizeof(session_t));
        table[s]->id = s;
        table[s]->opened = i;
        dead[s] = false;
      }
      break;
    case 'C':
      if (!dead[s])
        free(table[s]);
      table[s] = NULL;
      dead[s] = false;
      break;
    case 'T':
      if (table[s] != NULL && !dead[s] && i - table[s]->opened > 2) {
        free(table[s]);
        dead[s] = true;
      }
      break;
    case 'W':
      if (i < size && table[s] != NULL) { /* BUG: dead[s] not checked */
        session_t *x = table[s];
        x->buf[x->len++ % sizeof(x->buf)] = data[i++];
      }
      break;
    }
  }
  for (int s = 0; s < 8; s++)
    if (table[s] != NULL && !dead[s]) {
      campaign_use(table[s]->buf, sizeof(table[s]->buf));
      free(table[s]);
    }
}
