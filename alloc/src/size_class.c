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
};

_Static_assert(SA_CLASS_COUNT == 8 + 10 * 4, "class table size");

/* sa_size_class(16 * i) for i = 0..64, by the same formula. */
#define SA_LOG2_BELOW_1K(x) ((x) >= 512 ? 9u : (x) >= 256 ? 8u : 7u)
#define SA_CLASS_OF(s)                                                         \
  ((s) <= 128 ? ((s) + 15u) / 16u - ((s) != 0)                                 \
              : 8u + (SA_LOG2_BELOW_1K((s)-1u) - 7u) * 4u +                    \
                    ((((s)-1u) >> (SA_LOG2_BELOW_1K((s)-1u) - 2u)) & 3u))
#define SA_CLASS_ROW(i)                                                        \
  SA_CLASS_OF(16u * (i)), SA_CLASS_OF(16u * (i) + 16u),                        \
      SA_CLASS_OF(16u * (i) + 32u), SA_CLASS_OF(16u * (i) + 48u),              \
      SA_CLASS_OF(16u * (i) + 64u), SA_CLASS_OF(16u * (i) + 80u),              \
      SA_CLASS_OF(16u * (i) + 96u), SA_CLASS_OF(16u * (i) + 112u)

const uint8_t _sa_small_class[1024 / 16 + 1] = {
    SA_CLASS_ROW(0),  SA_CLASS_ROW(8),  SA_CLASS_ROW(16),
    SA_CLASS_ROW(24), SA_CLASS_ROW(32), SA_CLASS_ROW(40),
    SA_CLASS_ROW(48), SA_CLASS_ROW(56), SA_CLASS_OF(1024u),
};
