/* The C++ cases of the misuse suite: cases_cxx.inc, harness suite.h. */
#include <new>
#include <vector>

/* The sized delete, which clang declares only with -fsized-deallocation. */
void operator delete(void *p, std::size_t size) noexcept;

#define SUITE_CASES "cases_cxx.inc"
#include "suite.h"
