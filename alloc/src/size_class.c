/* The size-class table: 16-byte steps to 128, then 4 classes per power of
 * two up to SA_LARGE_MAX (see types.h). sa_size_class() in internal.h
 * computes the index; this table gives each class's block size. */
#include "internal.h"

#define SA_QUARTERS(bit)                                                       \
  5u << ((bit)-2), 6u << ((bit)-2), 7u << ((bit)-2), 8u << ((bit)-2)

const uint32_t _sa_class_size[SA_CLASS_COUNT] = {
    16,
    32,
    48,
    64,
    80,
    96,
    112,
    128,
    SA_QUARTERS(7),
    SA_QUARTERS(8),
    SA_QUARTERS(9),
    SA_QUARTERS(10),
    SA_QUARTERS(11),
    SA_QUARTERS(12),
    SA_QUARTERS(13),
    SA_QUARTERS(14),
    SA_QUARTERS(15),
    SA_QUARTERS(16),
    SA_QUARTERS(17),
    SA_QUARTERS(18),
};

_Static_assert(SA_CLASS_COUNT == 8 + 12 * 4, "class table size");
