/* The debug build's hooks: the only places where debug/ changes what the
 * core does. In production (SEGALLOC_DEBUG == 0) none of this exists and
 * api.c calls the core directly.
 *
 * The debug layer owns the block layout it adds around user memory; it
 * allocates and frees through the core (_sa_alloc, _sa_free, ...).
 * `frame` is the frame address of the public call (api.c), where the
 * debug layer starts the block's allocation or free backtrace. */
#ifndef SEGALLOC_HOOKS_H
#define SEGALLOC_HOOKS_H

#include "internal.h"

#if SEGALLOC_DEBUG
/* The public allocation calls, after api.c has checked the arguments
 * (size <= PTRDIFF_MAX, align a power of two in [16, SA_MAX_ALIGN], or 0
 * for malloc and calloc: 16, or less for a small guarded block). */
void *_sa_dbg_alloc(size_t size, size_t align, bool zero, const void *frame);
void _sa_dbg_free(void *p, const void *frame);
/* p != NULL, size != 0 */
void *_sa_dbg_realloc(void *p, size_t size, const void *frame);
size_t _sa_dbg_usable_size(const void *p);
/* The debug part of segalloc_check_heap: every live block's canaries and
 * every quarantined block's poison; returns the problems (each reported). */
int _sa_dbg_check_heap(void);
/* Adds the blocks the debug layer keeps outside the core (guarded ones,
 * in their own pages) to the stats' block count and byte total. */
void _sa_dbg_add_stats(size_t *blocks, size_t *bytes);
/* Called once by the core's own init: options, thread key (no allocation
 * yet), then, after the core's fork handlers are registered, the debug
 * layer's (so that at fork they run first: pthread_atfork order). */
void _sa_dbg_init(void);
void _sa_dbg_init_fork(void);
#endif

#endif /* SEGALLOC_HOOKS_H */
