/* A list of tagged values driven by commands: 'A' v appends v, 'R' v
 * removes the first node holding v, 'S' sums the list. Removing the only
 * node frees it but leaves `head` pointing at it: the next 'S' reads the
 * freed node, then follows its `next` field. */
#include "campaign.h"

#include <stdlib.h>
#include <string.h>

typedef struct node_s {
  uint32_t value;
  char tag[12];
  struct node_s *next; /* past the words glibc reuses in a freed chunk */
} node_t;

typedef struct list_s {
  node_t *head, *tail;
} list_t;

static void append(list_t *l, uint8_t v) {
  node_t *n = malloc(sizeof(*n));
  n->value = v;
  memcpy(n->tag, "value", 6);
  n->next = NULL;
  if (l->tail != NULL)
    l->tail->next = n;
  else
    l->head = n;
  l->tail = n;
}

static void remove_value(list_t *l, uint8_t v) {
  node_t *prev = NULL;
  for (node_t *n = l->head; n != NULL; prev = n, n = n->next) {
    if (n->value != v)
      continue;
    if (n == l->head && n == l->tail) { /* the only node */
      l->tail = NULL;                   /* BUG: head not cleared */
    } else {
      if (prev != NULL)
        prev->next = n->next;
      else
        l->head = n->next;
      if (n == l->tail)
        l->tail = prev;
    }
    free(n);
    return;
  }
}

static unsigned sum(const list_t *l) {
  unsigned s = 0;
  for (const node_t *n = l->head; n != NULL; n = n->next)
    s += n->value + (unsigned)n->tag[0];
  return s;
}

void campaign_parse(const uint8_t *data, size_t size) {
  list_t l = {NULL, NULL};
  unsigned total = 0;
  for (size_t i = 0; i + 1 < size; i += 2) {
    switch (data[i]) {
    case 'A':
      append(&l, data[i + 1]);
      break;
    case 'R':
      remove_value(&l, data[i + 1]);
      break;
    case 'S':
      total += sum(&l);
      break;
    }
  }
  campaign_use(&total, sizeof(total));
  while (l.head != NULL && l.tail != NULL) {
    node_t *n = l.head;
    l.head = n->next;
    if (n == l.tail)
      l.tail = NULL;
    free(n);
  }
}
