/* The stack depot (debug.h): every backtrace a block records, stored once
 * and named by a 32-bit id, as ASan's StackDepot. A header holds two ids
 * instead of nine return addresses, which halves it; and a program has
 * few distinct allocation and free sites, so the depot stays small.
 *
 * Lock-free: a thread claims a record, fills it, then publishes its id in
 * an empty bucket of the hash table by compare-and-swap; a published
 * record never changes. Bounded: beyond DEPOT_RECORDS distinct backtraces
 * (or a probe sequence longer than DEPOT_PROBES), new ones are not
 * recorded (id 0), said once on stderr. The memory is reserved at init
 * and committed by the kernel as it is touched. */
#include "debug.h"

#include <string.h>

#define DEPOT_RECORDS ((uint32_t)1 << 17)
#define DEPOT_BITS 18
#define DEPOT_BUCKETS ((uint32_t)1 << DEPOT_BITS) /* at most half full */
#define DEPOT_PROBES 64

typedef struct record_s {
  uint64_t hash;
  const void *frames[SA_DBG_TRACE_DEPTH]; /* NULL-padded */
} record_t;

static struct {
  _Atomic(uint32_t) *buckets; /* record index + 1; 0: empty */
  record_t *records;
  _Atomic(uint32_t) used; /* records claimed */
  atomic_flag full_said;
} depot = {.full_said = ATOMIC_FLAG_INIT};

void _sa_dbg_stack_init(void) {
  size_t bytes =
      DEPOT_BUCKETS * sizeof(*depot.buckets) + DEPOT_RECORDS * sizeof(record_t);
  uint8_t *memory = _sa_os_reserve(bytes, true);
  if (memory == NULL)
    return; /* no backtraces recorded: reports go without them */
  depot.buckets = (_Atomic(uint32_t) *)memory;
  depot.records = (record_t *)(memory + DEPOT_BUCKETS * sizeof(*depot.buckets));
}

/* Cheap (the frames rotated apart, xor'ed); the bucket is taken from
 * the top bits of its product with an odd constant, which depend on all
 * of its bits. */
static uint64_t hash_of(const void *const *frames) {
  uint64_t acc = 0;
#pragma GCC unroll 8
  for (size_t i = 0; i < SA_DBG_TRACE_DEPTH; i++) {
    uint64_t f = (uintptr_t)frames[i];
    acc ^= i == 0 ? f : f << (13 * i) | f >> (64 - 13 * i);
  }
  return acc;
}

static uint32_t bucket_of(uint64_t hash) {
  return (uint32_t)((hash * 0x9e3779b97f4a7c15ULL) >> (64 - DEPOT_BITS));
}

/* A record holding `frames`; 0 when the depot is full. */
static uint32_t claim(uint64_t hash, const void *const *frames) {
  uint32_t n = atomic_load_explicit(&depot.used, memory_order_relaxed);
  if (n < DEPOT_RECORDS)
    n = atomic_fetch_add_explicit(&depot.used, 1, memory_order_relaxed);
  if (n >= DEPOT_RECORDS) {
    if (!atomic_flag_test_and_set(&depot.full_said))
      _sa_message("stack depot full (%u backtraces): new allocation and "
                  "free sites go unrecorded",
                  DEPOT_RECORDS);
    return 0;
  }
  record_t *r = &depot.records[n];
  r->hash = hash;
  memcpy(r->frames, frames, sizeof(r->frames));
  return n + 1;
}

static bool same(const record_t *r, uint64_t hash, const void *const *frames) {
  if (r->hash != hash)
    return false;
  uint64_t diff = 0;
#pragma GCC unroll 8
  for (size_t i = 0; i < SA_DBG_TRACE_DEPTH; i++)
    diff |= (uintptr_t)r->frames[i] ^ (uintptr_t)frames[i];
  return diff == 0;
}

uint32_t _sa_dbg_stack_capture(size_t depth, const void *frame) {
  const void *frames[SA_DBG_TRACE_DEPTH] = {0};
  _sa_dbg_backtrace(frames, depth, frame);
  if (frames[0] == NULL || depot.buckets == NULL)
    return 0;
  uint64_t hash = hash_of(frames);
  uint32_t mine = 0; /* claimed, not yet published */
  uint32_t start = bucket_of(hash);
  for (uint32_t probe = 0; probe < DEPOT_PROBES; probe++) {
    _Atomic(uint32_t) *bucket =
        &depot.buckets[(start + probe) & (DEPOT_BUCKETS - 1)];
    uint32_t id = atomic_load_explicit(bucket, memory_order_acquire);
    if (id == 0) {
      if (mine == 0 && (mine = claim(hash, frames)) == 0)
        return 0;
      if (atomic_compare_exchange_strong_explicit(
              bucket, &id, mine, memory_order_release, memory_order_acquire))
        return mine;
      /* Another thread filled the bucket first: maybe the same trace. */
    }
    if (same(&depot.records[id - 1], hash, frames))
      return id; /* a record of ours claimed meanwhile stays unused */
  }
  return 0;
}

const void *const *_sa_dbg_stack_frames(uint32_t id) {
  if (id == 0 || id > atomic_load(&depot.used) || id > DEPOT_RECORDS)
    return NULL;
  return depot.records[id - 1].frames;
}
