/* The checked functions of the debug drop-in (debug/src/checked.c), in one
 * list for their two tests: checked_test.c calls them, checked_fortify_test.c
 * their __*_chk variants. X(ENUM, name) for each, in this order. */
#ifndef SEGALLOC_TESTS_DEBUG_CHECKED_CALLS_H
#define SEGALLOC_TESTS_DEBUG_CHECKED_CALLS_H

#define CHECKED_CALLS(X)                                                       \
  X(MEMCPY, memcpy)                                                            \
  X(MEMMOVE, memmove)                                                          \
  X(MEMSET, memset)                                                            \
  X(STRCPY, strcpy)                                                            \
  X(STPCPY, stpcpy)                                                            \
  X(STRNCPY, strncpy)                                                          \
  X(STRCAT, strcat)                                                            \
  X(STRNCAT, strncat)

#define CHECKED_CALL_ENUM(e, name) e,

#endif
