/* Race scenarios on the remote free, without Criterion: the same code runs
 * in abandon_race_test.c (Criterion) and in race_stress_test.c (a plain
 * main, so that it also runs under --config=tsan: Criterion can't start
 * under ThreadSanitizer, its inheritable arena finds no free address).
 * Each returns how many blocks came back damaged or allocations failed. */
#ifndef SEGALLOC_TESTS_RACE_SCENARIOS_H
#define SEGALLOC_TESTS_RACE_SCENARIOS_H

#include "segalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ---- 1: owners exit while other threads free their last blocks ---- */
/* With the segment cache full, the exit collects the blocks, releases the
 * pages and unmaps the segments (blocks of 100 KiB: each its thread's only
 * medium block, so its segment empties). A remote free must touch nothing of
 * the page, segment or heap once its block is published (it used to read the
 * page's full flag and the segment's owner after that). */
enum { LAST_PAIRS = 6, LAST_SIZE = 100 * 1024 };

typedef struct last_pair_s {
  pthread_barrier_t *go;
  unsigned char *block;
  _Atomic unsigned *errors;
} last_pair_t;

static void *race_own_then_exit(void *arg) {
  last_pair_t *p = arg;
  p->block = segalloc_malloc(LAST_SIZE);
  if (p->block == NULL)
    atomic_fetch_add(p->errors, 1);
  else
    memset(p->block, 0x5a, LAST_SIZE);
  pthread_barrier_wait(p->go);
  return NULL; /* exits as the other thread frees its block */
}

static void *race_free_last_block(void *arg) {
  last_pair_t *p = arg;
  pthread_barrier_wait(p->go);
  if (p->block != NULL && p->block[LAST_SIZE - 1] != 0x5a)
    atomic_fetch_add(p->errors, 1);
  segalloc_free(p->block);
  return NULL;
}

static inline unsigned race_last_block_exits(int rounds) {
  _Atomic unsigned errors = 0;
  /* Fill the segment cache: each large class has its own segment. */
  void *fill[8];
  for (int i = 0; i < 8; i++)
    fill[i] = segalloc_malloc((size_t)(80 + 40 * i) * 1024);
  for (int i = 0; i < 8; i++)
    segalloc_free(fill[i]);
  for (int round = 0; round < rounds; round++) {
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 2 * LAST_PAIRS);
    last_pair_t pairs[LAST_PAIRS];
    pthread_t owners[LAST_PAIRS], freers[LAST_PAIRS];
    for (int i = 0; i < LAST_PAIRS; i++) {
      pairs[i] = (last_pair_t){.go = &go, .block = NULL, .errors = &errors};
      if (pthread_create(&owners[i], NULL, race_own_then_exit, &pairs[i]) ||
          pthread_create(&freers[i], NULL, race_free_last_block, &pairs[i]))
        return atomic_load(&errors) + 1000; /* the barrier would hang */
    }
    for (int i = 0; i < LAST_PAIRS; i++) {
      pthread_join(owners[i], NULL);
      pthread_join(freers[i], NULL);
    }
    pthread_barrier_destroy(&go);
  }
  return atomic_load(&errors);
}

/* ---- 2: remote frees into full pages ---- */
/* The owner fills pages (they go to its full list) and hands every block
 * to a thread that frees it (some after resizing them): each first free
 * into a full page tells the owner (state NOTIFYING), while the owner
 * keeps allocating, moves pages out of its full list, and at the end
 * exits. */
enum { HANDOFF_BATCH = 4096, HANDOFF_BATCHES = 64 };

typedef struct handoff_s {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  void **batch; /* the batch waiting to be freed, or NULL */
  bool done;
  _Atomic unsigned errors;
} handoff_t;

static void *race_handoff_owner(void *arg) {
  handoff_t *h = arg;
  for (int b = 0; b < HANDOFF_BATCHES; b++) {
    void **batch = segalloc_malloc(HANDOFF_BATCH * sizeof(void *));
    if (batch == NULL) {
      atomic_fetch_add(&h->errors, 1);
      continue;
    }
    for (int i = 0; i < HANDOFF_BATCH; i++) {
      size_t size = 16 + (size_t)((i * 7 + b) % 200);
      /* Some aligned blocks: the owner marks their page while other
       * blocks of it are freed by the other thread. */
      batch[i] = i % 64 == 0 ? segalloc_aligned_alloc(64, size)
                             : segalloc_malloc(size);
      if (batch[i] == NULL)
        atomic_fetch_add(&h->errors, 1);
      else
        memset(batch[i], 0xa5, size);
    }
    pthread_mutex_lock(&h->lock);
    while (h->batch != NULL)
      pthread_cond_wait(&h->cond, &h->lock);
    h->batch = batch;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
  }
  return NULL; /* exits with its last batch maybe not yet freed */
}

static void *race_handoff_freer(void *arg) {
  handoff_t *h = arg;
  for (;;) {
    pthread_mutex_lock(&h->lock);
    while (h->batch == NULL && !h->done)
      pthread_cond_wait(&h->cond, &h->lock);
    void **batch = h->batch;
    h->batch = NULL;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    if (batch == NULL)
      return NULL;
    for (int i = 0; i < HANDOFF_BATCH; i++) {
      const unsigned char *p = batch[i];
      if (p != NULL && (p[0] != 0xa5 || p[15] != 0xa5))
        atomic_fetch_add(&h->errors, 1);
      if (i % 16 == 1) /* resized by a thread that doesn't own it */
        batch[i] = segalloc_realloc(batch[i], 24);
      segalloc_free(batch[i]);
    }
    segalloc_free(batch);
  }
}

static inline unsigned race_full_page_handoffs(int owners) {
  handoff_t h = {.batch = NULL, .done = false};
  pthread_mutex_init(&h.lock, NULL);
  pthread_cond_init(&h.cond, NULL);
  atomic_init(&h.errors, 0);
  pthread_t freer;
  if (pthread_create(&freer, NULL, race_handoff_freer, &h))
    return 1;
  for (int i = 0; i < owners; i++) {
    pthread_t owner;
    if (pthread_create(&owner, NULL, race_handoff_owner, &h) ||
        pthread_join(owner, NULL))
      atomic_fetch_add(&h.errors, 1);
  }
  pthread_mutex_lock(&h.lock);
  h.done = true;
  pthread_cond_broadcast(&h.cond);
  pthread_mutex_unlock(&h.lock);
  pthread_join(freer, NULL);
  return atomic_load(&h.errors);
}

#endif /* SEGALLOC_TESTS_RACE_SCENARIOS_H */
