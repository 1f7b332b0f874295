/* The debug build's hooks: the only places where debug/ changes what the
 * core does. In production (SEGALLOC_DEBUG == 0) none of this exists and
 * api.c calls the core directly.
 *
 * The debug layer owns the block layout it adds around user memory; it
 * allocates and frees through the core (_sa_alloc, _sa_free, ...). */
#ifndef SEGALLOC_HOOKS_H
#define SEGALLOC_HOOKS_H

#include "internal.h"

#if SEGALLOC_DEBUG
/* The public allocation calls, after api.c has checked the arguments
 * (size <= PTRDIFF_MAX, align a power of two <= SA_MAX_ALIGN). */
void *_sa_dbg_alloc(size_t size, size_t align, bool zero);
void _sa_dbg_free(void *p);
void *_sa_dbg_realloc(void *p, size_t size); /* p != NULL, size != 0 */
size_t _sa_dbg_usable_size(const void *p);
/* Called by segalloc_check_heap for every block the core has handed out;
 * returns the number of problems found (and reports each). */
int _sa_dbg_check_block(void *block, size_t block_size);
#endif

#endif /* SEGALLOC_HOOKS_H */
