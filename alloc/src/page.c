/* Pages and their queues: the malloc slow path (find or make a page with a
 * free block), carving fresh blocks, collecting the blocks freed locally
 * and by other threads, the remote free, and moving pages between a heap's
 * class queues and its full list. */
#include "internal.h"

#include <errno.h>
#include <sched.h>

void _sa_page_queue_push(sa_heap_t *heap, sa_page_t *page) {
  SA_LIST_PUSH(heap->pages[page->size_class], page, next, prev);
}

void _sa_page_queue_remove(sa_heap_t *heap, sa_page_t *page) {
  SA_LIST_REMOVE(heap->pages[page->size_class], page, next, prev);
}

static void page_init(sa_segment_t *seg, sa_page_t *page, unsigned cls) {
  uint32_t size = _sa_class_size[cls];
  page->block_size = size;
  page->block_magic = sa_div_magic(size);
  page->size_class = (uint8_t)cls;
  page->reserved =
      (uint32_t)((size_t)(_sa_page_end(seg, page) - page->area) / size);
  atomic_store_explicit(&page->capacity, 0, memory_order_relaxed);
  page->used = 0;
  page->free = NULL;
  page->key = ((uintptr_t)page->area * 0x9e3779b97f4a7c15u) | (uintptr_t)1
                                                                  << 63;
  atomic_store_explicit(&page->has_aligned, 0, memory_order_relaxed);
}

/* Carves the next untouched blocks into the free list, about an OS page's
 * worth at a time, so a new page only costs the memory it uses. */
static void page_extend(sa_page_t *page) {
  uint32_t size = page->block_size;
  uint32_t count = (uint32_t)(4096 / size);
  if (count == 0)
    count = 1;
  if (count > page->reserved - page->capacity)
    count = page->reserved - page->capacity;
  uint8_t *first = page->area + (size_t)page->capacity * size;
  for (uint32_t i = 0; i + 1 < count; i++)
    sa_block_set_next(page, (sa_block_t *)(first + (size_t)i * size),
                      (sa_block_t *)(first + (size_t)(i + 1) * size));
  sa_block_set_next(page, (sa_block_t *)(first + (size_t)(count - 1) * size),
                    page->free);
  page->free = (sa_block_t *)first;
  atomic_store_explicit(&page->capacity, page->capacity + count,
                        memory_order_relaxed);
}

void _sa_page_collect_remote(sa_page_t *page) {
  uintptr_t word =
      atomic_load_explicit(&page->thread_free, memory_order_relaxed);
  if (sa_tf_list(word) == NULL)
    return;
  /* Only the owner takes the list, so it stays non-empty; the state bits
   * stay as they are. */
  while (!atomic_compare_exchange_weak_explicit(
      &page->thread_free, &word, word & SA_TF_MASK, memory_order_acquire,
      memory_order_relaxed))
    ;
  sa_block_t *list = sa_tf_list(word);
  uint32_t count = sa_tf_count(word);
  sa_assert_internal(page->in_use && page->used <= page->capacity);
  if (SA_UNLIKELY(count > page->used)) {
    _sa_error(SA_ERR_DOUBLE_FREE, list, "freed twice from another thread");
    return; /* if the error returns, leak them */
  }
  page->used -= count;
  /* The malloc slow path collects when `free` runs out: no walk then. */
  if (page->free == NULL) {
    page->free = list;
  } else {
    sa_block_t *tail = list;
    for (uint32_t i = 1; i < count; i++)
      tail = sa_block_next(page, tail);
    sa_block_set_next(page, tail, page->free);
    page->free = list;
  }
}

/* Makes `free` non-empty if the page has any block left; false if not. */
static bool page_has_free(sa_page_t *page) {
  if (page->free == NULL)
    _sa_page_collect_remote(page);
  if (page->free == NULL && page->capacity < page->reserved)
    page_extend(page);
  return page->free != NULL;
}

/* The page has nothing free: park it in the full list, unless blocks came
 * back meanwhile or a remote free is still telling this heap about the
 * page's last stay there (then it stays queued and is looked at again).
 * From here on a remote free sees FULL and tells the heap. */
static void page_to_full(sa_heap_t *heap, sa_page_t *page) {
  uintptr_t word = SA_TF_NORMAL;
  if (!atomic_compare_exchange_strong(&page->thread_free, &word, SA_TF_FULL))
    return;
  sa_assert_internal(!page->in_full && page->free == NULL);
  _sa_page_queue_remove(heap, page);
  SA_LIST_PUSH(heap->full, page, next, prev);
  page->in_full = 1;
}

/* Back to the end of its class queue, where it gathers more free blocks
 * before malloc reaches it. A NOTIFYING state is its notifier's to end. */
static void page_from_full(sa_heap_t *heap, sa_page_t *page) {
  sa_assert_internal(page->in_full);
  uintptr_t word =
      atomic_load_explicit(&page->thread_free, memory_order_relaxed);
  while ((word & SA_TF_MASK) == SA_TF_FULL &&
         !atomic_compare_exchange_weak(&page->thread_free, &word,
                                       word & ~(uintptr_t)SA_TF_MASK))
    ;
  SA_LIST_REMOVE(heap->full, page, next, prev);
  page->in_full = 0;
  SA_LIST_APPEND(heap->pages[page->size_class], page, next, prev);
}

/* Moves the full pages other threads freed into back to their queues;
 * true if any moved. A page whose notifier isn't done yet is looked at on
 * the next sweep. */
static bool sweep_full(sa_heap_t *heap) {
  bool moved = false;
  sa_page_t *page = heap->full;
  while (page != NULL) {
    sa_page_t *next = page->next;
    uintptr_t word = atomic_load(&page->thread_free);
    if ((word & SA_TF_MASK) == SA_TF_NOTIFYING) {
      atomic_store(&heap->full_has_remote, true);
    } else if (sa_tf_list(word) != NULL) {
      page_from_full(heap, page);
      moved = true;
    }
    page = next;
  }
  return moved;
}

void _sa_page_abandon(sa_page_t *page) {
  uintptr_t word = atomic_load(&page->thread_free);
  for (;;) {
    if ((word & SA_TF_MASK) == SA_TF_NOTIFYING) {
      sched_yield(); /* its notifier is a few instructions from done */
      word = atomic_load(&page->thread_free);
    } else if (atomic_compare_exchange_weak(&page->thread_free, &word,
                                            word & ~(uintptr_t)SA_TF_MASK)) {
      break;
    }
  }
  page->in_full = 0;
  page->next = page->prev = NULL;
}

void _sa_page_after_fork(sa_page_t *page) {
  uintptr_t word = atomic_load(&page->thread_free);
  if ((word & SA_TF_MASK) == SA_TF_NOTIFYING)
    atomic_store(&page->thread_free,
                 (word & ~(uintptr_t)SA_TF_MASK) |
                     (page->in_full ? SA_TF_FULL : SA_TF_NORMAL));
}

bool _sa_free_remote(sa_segment_t *seg, sa_page_t *page, sa_block_t *block) {
  /* A block of an exited thread: take over its segment, so that what the
   * program frees there can be reused or given back. */
  if (atomic_load_explicit(&seg->heap, memory_order_relaxed) == NULL) {
    sa_heap_t *heap = _sa_tls_heap;
    if (heap == &_sa_heap_empty)
      heap = _sa_heap_init_thread();
    if (heap != NULL && _sa_segment_adopt(heap, seg))
      return false;
  }
#if SEGALLOC_INJECT_BUG == 2
  return true;
#endif
  /* A full page's heap must learn that it got a block back. It is told
   * while the page is NOTIFYING, before the block is published: until
   * then the block keeps the page and its segment in use, and the owner
   * neither abandons the page nor lets its heap go (_sa_page_abandon
   * waits). The CAS that publishes the block also ends NOTIFYING, and is
   * the last access: by then the owner may have freed everything. */
  bool notifier = false;
  uintptr_t word =
      atomic_load_explicit(&page->thread_free, memory_order_relaxed);
  for (;;) {
    if (SA_UNLIKELY(sa_tf_list(word) == block)) {
      if (notifier) /* production aborts; the debug build may go on */
        while (!atomic_compare_exchange_weak(&page->thread_free, &word,
                                             word & ~(uintptr_t)SA_TF_MASK))
          ;
      _sa_error(SA_ERR_DOUBLE_FREE, block, "block is already free");
      return true;
    }
    if (!notifier && (word & SA_TF_MASK) == SA_TF_FULL) {
      uintptr_t claim = (word & ~(uintptr_t)SA_TF_MASK) | SA_TF_NOTIFYING;
      if (!atomic_compare_exchange_weak(&page->thread_free, &word, claim))
        continue;
      word = claim;
      notifier = true;
      sa_heap_t *owner = atomic_load(&seg->heap);
      if (owner != NULL)
        atomic_store(&owner->full_has_remote, true);
    }
    sa_block_set_next(page, block, sa_tf_list(word));
    uintptr_t state = notifier ? SA_TF_NORMAL : word & SA_TF_MASK;
    uintptr_t count = (uintptr_t)(sa_tf_count(word) + 1) << SA_TF_COUNT_SHIFT;
    if (atomic_compare_exchange_weak_explicit(
            &page->thread_free, &word, count | (uintptr_t)block | state,
            memory_order_release, memory_order_relaxed))
      return true;
  }
}

/* Keep a class's only page even when empty: a program that mallocs and
 * frees one block in a loop must not give pages back and take them again. */
static bool keep_empty(sa_heap_t *heap, sa_page_t *page) {
  return heap->pages[page->size_class] == page && page->next == NULL;
}

void _sa_page_after_local_free(sa_heap_t *heap, sa_page_t *page) {
  if (page->in_full)
    page_from_full(heap, page);
  if (page->used == 0 && !keep_empty(heap, page)) {
    sa_assert_internal(atomic_load(&page->thread_free) == SA_TF_NORMAL);
    _sa_page_queue_remove(heap, page);
    _sa_page_release(heap, page);
  }
}

/* A page of class `cls` with a free block, now at the head of its queue. */
static sa_page_t *page_find(sa_heap_t *heap, unsigned cls) {
  for (;;) {
    sa_page_t *page = heap->pages[cls];
    while (page != NULL) {
      sa_page_t *next = page->next;
      if (page_has_free(page)) {
        if (page != heap->pages[cls]) {
          _sa_page_queue_remove(heap, page);
          _sa_page_queue_push(heap, page);
        }
        return page;
      }
      page_to_full(heap, page);
      page = next;
    }
    if (atomic_load_explicit(&heap->full_has_remote, memory_order_relaxed) &&
        atomic_exchange(&heap->full_has_remote, false) && sweep_full(heap))
      continue;
    if (!_sa_segment_adopt(heap, NULL))
      break;
  }
  sa_page_t *page = _sa_page_alloc(heap, sa_class_kind(cls));
  if (page == NULL)
    return NULL;
  page_init(sa_segment_of(page), page, cls);
  page_extend(page);
  _sa_page_queue_push(heap, page);
  return page;
}

bool _sa_page_resize(sa_heap_t *heap, sa_segment_t *seg, sa_page_t *page,
                     size_t size) {
  unsigned cls = sa_size_class(size);
  if (sa_class_kind(cls) != seg->kind || page->in_full ||
      atomic_load_explicit(&page->has_aligned, memory_order_relaxed) ||
      atomic_load_explicit(&page->thread_free, memory_order_relaxed) !=
          SA_TF_NORMAL)
    return false;
  sa_assert_internal(page->used == 1 && page->in_use);
  /* Its other blocks are free: the page starts afresh in the new class,
   * the block its first block, carved. At the end of the new class's
   * queue, so that other blocks are carved after it only when the pages
   * before are full. */
  _sa_page_queue_remove(heap, page);
  page_init(seg, page, cls);
  atomic_store_explicit(&page->capacity, 1, memory_order_relaxed);
  page->used = 1;
  SA_LIST_APPEND(heap->pages[cls], page, next, prev);
  return true;
}

/* The first block of the page's free list links to nowhere in its segment
 * (see sa_block_next): reports it, and if the report returns, drops the
 * rest of the list (those blocks leak). */
static void free_list_broken(sa_page_t *page) {
  sa_block_t *block = page->free;
  page->free = NULL;
  if (block->link == 0)
    _sa_error(SA_ERR_DOUBLE_FREE, block,
              "freed twice: malloc reached it again");
  else
    _sa_error(SA_ERR_HEAP_CORRUPTION, block,
              "free block's link overwritten (written after free?)");
}

void *_sa_malloc_slow(sa_heap_t *heap, unsigned cls) {
  if (heap == &_sa_heap_empty && (heap = _sa_heap_init_thread()) == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  sa_page_t *page = heap->pages[cls];
  for (;;) {
    if (page == NULL || page->free == NULL)
      page = page_find(heap, cls);
    if (page == NULL) {
      errno = ENOMEM;
      return NULL;
    }
    sa_block_t *block = page->free;
    sa_block_t *next = sa_block_next(page, block);
    if (next == NULL || sa_link_ok(block, next)) {
      page->free = next;
      if (next == NULL) /* the fast path leaves the last block to us */
        _sa_page_collect_remote(page);
      block->link = 0;
      page->used++;
      return block;
    }
    free_list_broken(page); /* the fast path's bad link */
  }
}
