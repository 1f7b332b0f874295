/* Pages and their queues: the malloc slow path (find or make a page with a
 * free block), carving fresh blocks, collecting remote frees, and moving
 * pages between a heap's class queues and its full list. */
#include "internal.h"

#include <errno.h>

void _sa_page_queue_push(sa_heap_t *heap, sa_page_t *page) {
  sa_page_t **head = &heap->pages[page->size_class];
  page->prev = NULL;
  page->next = *head;
  if (*head != NULL)
    (*head)->prev = page;
  *head = page;
}

/* Removes the page from the list starting at *head (queue or full list). */
static void page_list_remove(sa_page_t **head, sa_page_t *page) {
  if (page->prev != NULL)
    page->prev->next = page->next;
  else
    *head = page->next;
  if (page->next != NULL)
    page->next->prev = page->prev;
  page->next = page->prev = NULL;
}

void _sa_page_queue_remove(sa_heap_t *heap, sa_page_t *page) {
  page_list_remove(&heap->pages[page->size_class], page);
}

static void page_init(sa_segment_t *seg, sa_page_t *page, unsigned cls) {
  uint32_t size = _sa_class_size[cls];
  page->block_size = size;
  page->size_class = (uint8_t)cls;
  page->reserved =
      (uint32_t)((size_t)(_sa_page_end(seg, page) - page->area) / size);
  page->capacity = 0;
  page->used = 0;
  page->free = NULL;
  page->has_aligned = 0;
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
    ((sa_block_t *)(first + (size_t)i * size))->next =
        (sa_block_t *)(first + (size_t)(i + 1) * size);
  ((sa_block_t *)(first + (size_t)(count - 1) * size))->next = page->free;
  page->free = (sa_block_t *)first;
  page->capacity += count;
}

void _sa_page_collect_remote(sa_page_t *page) {
  if (atomic_load_explicit(&page->remote_free, memory_order_relaxed) == NULL)
    return;
  sa_block_t *list =
      atomic_exchange_explicit(&page->remote_free, NULL, memory_order_acquire);
  if (list == NULL)
    return;
  /* More remote frees than blocks in use means a block was freed twice
   * (and the list may now be a cycle): stop rather than loop forever. */
  uint32_t count = 1;
  sa_block_t *tail = list;
  while (tail->next != NULL && count <= page->used) {
    tail = tail->next;
    count++;
  }
  if (count > page->used) {
    _sa_error(SA_ERR_DOUBLE_FREE, tail, "freed twice from another thread");
    count = page->used; /* if the error returns, leak what is left */
    tail->next = NULL;
  }
  tail->next = page->free;
  page->free = list;
  page->used -= count;
}

/* The page has nothing free: park it in the full list. A remote free that
 * races with this either sees in_full or is seen here (both seq_cst), so
 * the heap always learns that a full page got a block back. */
static void page_to_full(sa_heap_t *heap, sa_page_t *page) {
  _sa_page_queue_remove(heap, page);
  page->next = heap->full;
  if (heap->full != NULL)
    heap->full->prev = page;
  heap->full = page;
  atomic_store(&page->in_full, true);
  if (atomic_load(&page->remote_free) != NULL)
    atomic_store(&heap->full_has_remote, true);
}

static void page_from_full(sa_heap_t *heap, sa_page_t *page) {
  page_list_remove(&heap->full, page);
  atomic_store_explicit(&page->in_full, false, memory_order_relaxed);
  _sa_page_queue_push(heap, page);
}

/* Moves full pages that other threads freed into back to their queues;
 * true if any moved. */
static bool sweep_full(sa_heap_t *heap) {
  bool moved = false;
  sa_page_t *page = heap->full;
  while (page != NULL) {
    sa_page_t *next = page->next;
    if (atomic_load_explicit(&page->remote_free, memory_order_relaxed)) {
      _sa_page_collect_remote(page);
      page_from_full(heap, page);
      moved = true;
    }
    page = next;
  }
  return moved;
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
  sa_block_t *head =
      atomic_load_explicit(&page->remote_free, memory_order_relaxed);
  do {
    if (SA_UNLIKELY(head == block)) {
      _sa_error(SA_ERR_DOUBLE_FREE, block, "block is already free");
      return true;
    }
    block->next = head;
  } while (!atomic_compare_exchange_weak(&page->remote_free, &head, block));
  if (atomic_load(&page->in_full)) {
    sa_heap_t *owner = atomic_load_explicit(&seg->heap, memory_order_relaxed);
    if (owner != NULL)
      atomic_store(&owner->full_has_remote, true);
  }
  return true;
}

/* Keep a class's only page even when empty: a program that mallocs and
 * frees one block in a loop must not give pages back and take them again.
 * A large page is a whole segment, though: those are kept only while the
 * heap has large blocks in use, so that after a burst of large blocks is
 * freed, all its memory goes (the segment cache keeps a few). */
static bool keep_empty(sa_heap_t *heap, sa_page_t *page) {
  if (heap->pages[page->size_class] != page || page->next != NULL)
    return false;
  if (page->block_size <= SA_MEDIUM_MAX)
    return true;
  for (const sa_segment_t *seg = heap->owned[SA_SEGMENT_LARGE]; seg != NULL;
       seg = seg->owned_next)
    if (seg->pages[0].in_use && seg->pages[0].used != 0)
      return true;
  sa_segment_t *seg = heap->owned[SA_SEGMENT_LARGE];
  while (seg != NULL) {
    sa_segment_t *next = seg->owned_next; /* release unlinks seg */
    sa_page_t *empty = &seg->pages[0];
    if (empty != page && empty->in_use) {
      _sa_page_queue_remove(heap, empty);
      _sa_page_release(heap, empty);
    }
    seg = next;
  }
  return false;
}

void _sa_page_after_local_free(sa_heap_t *heap, sa_page_t *page) {
  if (atomic_load_explicit(&page->in_full, memory_order_relaxed))
    page_from_full(heap, page);
  if (page->used == 0 && !keep_empty(heap, page)) {
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
      _sa_page_collect_remote(page);
      if (page->free == NULL && page->capacity < page->reserved)
        page_extend(page);
      if (page->free != NULL) {
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
  uint32_t size = _sa_class_size[cls];
  sa_segment_kind_t kind = size <= SA_SMALL_MAX    ? SA_SEGMENT_SMALL
                           : size <= SA_MEDIUM_MAX ? SA_SEGMENT_MEDIUM
                                                   : SA_SEGMENT_LARGE;
  sa_page_t *page = _sa_page_alloc(heap, kind);
  if (page == NULL)
    return NULL;
  page_init(sa_segment_of(page), page, cls);
  page_extend(page);
  _sa_page_queue_push(heap, page);
  return page;
}

void *_sa_malloc_slow(sa_heap_t *heap, unsigned cls) {
  if (heap == &_sa_heap_empty && (heap = _sa_heap_init_thread()) == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  sa_page_t *page = page_find(heap, cls);
  if (page == NULL) {
    errno = ENOMEM;
    return NULL;
  }
  sa_block_t *block = page->free;
  page->free = block->next;
  page->used++;
  return block;
}
