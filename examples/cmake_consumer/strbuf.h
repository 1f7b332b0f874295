/* The library under test: a growable string. */
#ifndef STRBUF_H
#define STRBUF_H

#include <stddef.h>

typedef struct strbuf_s {
  char *data; /* NUL-terminated */
  size_t len, cap;
} strbuf_t;

/* Each returns 0, or -1 when out of memory (the buffer is unchanged). */
int strbuf_init(strbuf_t *sb);
int strbuf_append(strbuf_t *sb, const char *s);
void strbuf_free(strbuf_t *sb);

#endif /* STRBUF_H */
