#include "strbuf.h"

#include <stdlib.h>
#include <string.h>

int strbuf_init(strbuf_t *sb) {
  sb->data = malloc(16);
  if (sb->data == NULL)
    return -1;
  sb->data[0] = '\0';
  sb->len = 0;
  sb->cap = 16;
  return 0;
}

int strbuf_append(strbuf_t *sb, const char *s) {
  size_t n = strlen(s);
  if (sb->len + n + 1 > sb->cap) {
    size_t cap = sb->cap;
    while (sb->len + n + 1 > cap)
      cap *= 2;
    char *data = realloc(sb->data, cap);
    if (data == NULL)
      return -1;
    sb->data = data;
    sb->cap = cap;
  }
  memcpy(sb->data + sb->len, s, n + 1);
  sb->len += n;
  return 0;
}

void strbuf_free(strbuf_t *sb) {
  free(sb->data);
  sb->data = NULL;
  sb->len = sb->cap = 0;
}
