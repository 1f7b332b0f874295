/* The C cases of the misuse suite: cases_c.inc, harness suite.h. */
#define SUITE_CASES "cases_c.inc"
#include "suite.h"
