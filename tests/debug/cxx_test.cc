// operator new and delete of the debug drop-in (debug/src/cxx.cc): this
// test links //debug:segalloc_debug, so every form of new and delete here
// is segalloc's. Correct pairs work (and the blocks are segalloc's); a
// delete that doesn't match the allocation, or a sized delete of another
// size, dies with the report; new throws std::bad_alloc after running the
// new_handler, the nothrow forms return nullptr.
#include "segalloc_debug.h"
#include "tests/death.h"

#include <cstdint>
#include <cstdlib>
#include <map>
#include <new>
#include <string>
#include <vector>

namespace {

void assert_has(const death_result_t &r, const char *text) {
  cr_assert(strstr(r.output, text) != nullptr, "report lacks \"%s\":\n%s", text,
            r.output);
}

// A block from segalloc's debug build: its usable size is the request.
void assert_ours(const void *p, std::size_t size, std::size_t align) {
  cr_assert_neq(p, nullptr);
  cr_assert_eq(reinterpret_cast<std::uintptr_t>(p) % align, 0u);
  cr_assert_eq(segalloc_usable_size(p), size);
}

struct alignas(256) over_aligned {
  char bytes[300];
};

struct with_destructor {
  static int alive;
  with_destructor() {
    alive++;
  }
  ~with_destructor() {
    alive--;
  }
  char bytes[24];
};
int with_destructor::alive = 0;

} // namespace

Test(cxx, every_form_works) {
  std::size_t errors = segalloc_error_count();
  void *p = ::operator new(10);
  assert_ours(p, 10, 16);
  ::operator delete(p);
  p = ::operator new[](11);
  assert_ours(p, 11, 16);
  ::operator delete[](p);
  p = ::operator new(12);
  ::operator delete(p, 12);
  p = ::operator new[](13);
  ::operator delete[](p, 13);
  p = ::operator new(0);
  assert_ours(p, 0, 16);
  ::operator delete (p, std::size_t{0});
  p = ::operator new(14, std::nothrow);
  assert_ours(p, 14, 16);
  ::operator delete(p, std::nothrow);
  p = ::operator new[](15, std::nothrow);
  ::operator delete[](p, std::nothrow);
  for (std::size_t align : {1, 16, 64, 4096, 1 << 21}) {
    std::align_val_t a{align};
    std::size_t want = align < 16 ? 16 : align;
    p = ::operator new(20, a);
    assert_ours(p, 20, want);
    ::operator delete(p, a);
    p = ::operator new[](21, a);
    assert_ours(p, 21, want);
    ::operator delete[](p, a);
    p = ::operator new(22, a);
    ::operator delete(p, 22, a);
    p = ::operator new[](23, a);
    ::operator delete[](p, 23, a);
    p = ::operator new(24, a, std::nothrow);
    assert_ours(p, 24, want);
    ::operator delete(p, a, std::nothrow);
    p = ::operator new[](25, a, std::nothrow);
    ::operator delete[](p, a, std::nothrow);
  }
  // What new-expressions call: over-aligned types, arrays with a cookie.
  over_aligned *o = new over_aligned;
  assert_ours(o, sizeof(over_aligned), 256);
  delete o;
  with_destructor *arr = new with_destructor[7];
  cr_assert_eq(with_destructor::alive, 7);
  delete[] arr;
  cr_assert_eq(with_destructor::alive, 0);
  std::map<std::string, std::vector<int>> m;
  for (int i = 0; i < 2000; i++)
    m["key" + std::to_string(i)].assign(i % 50, i);
  cr_assert_eq(m["key1999"].size(), 1999u % 50);
  m.clear();
  cr_assert_eq(segalloc_error_count(), errors);
}

Test(cxx, new_throws_bad_alloc) {
  const std::size_t huge[] = {std::size_t{1} << 62, SIZE_MAX};
  for (std::size_t size : huge) {
    bool thrown = false;
    try {
      ::operator delete(::operator new(size));
    } catch (const std::bad_alloc &) {
      thrown = true;
    }
    cr_assert(thrown, "new(%zu) did not throw", size);
    thrown = false;
    try {
      ::operator delete[](::operator new[](size));
    } catch (const std::bad_alloc &) {
      thrown = true;
    }
    cr_assert(thrown, "new[](%zu) did not throw", size);
    thrown = false;
    try {
      ::operator delete(::operator new (16, std::align_val_t{size}));
    } catch (const std::bad_alloc &) {
      thrown = true; // an alignment above SA_MAX_ALIGN
    }
    cr_assert(thrown, "new(16, align %zu) did not throw", size);
    cr_assert_eq(::operator new(size, std::nothrow), nullptr);
    cr_assert_eq(::operator new[](size, std::nothrow), nullptr);
    cr_assert_eq(::operator new (size, std::align_val_t{64}, std::nothrow),
                 nullptr);
  }
}

namespace {
int handler_calls;
void count_then_give_up() {
  if (++handler_calls == 3)
    std::set_new_handler(nullptr);
}
} // namespace

Test(cxx, new_handler_loop) {
  handler_calls = 0;
  std::set_new_handler(count_then_give_up);
  bool thrown = false;
  try {
    ::operator delete(::operator new (std::size_t{1} << 62));
  } catch (const std::bad_alloc &) {
    thrown = true;
  }
  cr_assert(thrown);
  cr_assert_eq(handler_calls, 3);
  handler_calls = 0;
  std::set_new_handler(count_then_give_up);
  cr_assert_eq(::operator new (std::size_t{1} << 62, std::nothrow), nullptr);
  cr_assert_eq(handler_calls, 3);
}

// ---- mismatches, each in a child ----

namespace {

enum class call {
  DELETE,
  DELETE_ARRAY,
  FREE,
  REALLOC,
  DELETE_SIZED,
  DELETE_ARRAY_SIZED
};

struct misuse {
  call how;
  void *p;
  std::size_t size; // for the sized deletes
};

__attribute__((noinline)) void release(void *arg) {
  const misuse *m = static_cast<const misuse *>(arg);
  switch (m->how) {
  case call::DELETE:
    ::operator delete(m->p);
    break;
  case call::DELETE_ARRAY:
    ::operator delete[](m->p);
    break;
  case call::FREE:
    free(m->p);
    break;
  case call::REALLOC: {
    // Through a pointer: clang would fold free(realloc(p, n)) into free(p).
    void *(*volatile resize)(void *, std::size_t) = realloc;
    free(resize(m->p, 100));
    break;
  }
  case call::DELETE_SIZED:
    ::operator delete(m->p, m->size);
    break;
  case call::DELETE_ARRAY_SIZED:
    ::operator delete[](m->p, m->size);
    break;
  }
}

void expect(call how, void *p, std::size_t size, const char *kind,
            const char *detail) {
  misuse m{how, p, size};
  death_result_t r;
  death_run(release, &m, &r);
  death_assert_report(&r, kind, p);
  assert_has(r, detail);
  assert_has(r, "allocated by thread");
  assert_has(r, "found by thread");
}

} // namespace

Test(cxx, alloc_dealloc_mismatch) {
  void *array = ::operator new[](10);
  expect(call::DELETE, array, 0, "alloc-dealloc-mismatch",
         "allocated by operator new[] and freed by operator delete");
  expect(call::FREE, array, 0, "alloc-dealloc-mismatch",
         "allocated by operator new[] and freed by free");
  void *single = ::operator new(10);
  expect(call::DELETE_ARRAY, single, 0, "alloc-dealloc-mismatch",
         "allocated by operator new and freed by operator delete[]");
  expect(call::FREE, single, 0, "alloc-dealloc-mismatch",
         "allocated by operator new and freed by free");
  expect(call::REALLOC, single, 0, "alloc-dealloc-mismatch",
         "allocated by operator new and freed by realloc");
  void *malloced = malloc(10);
  expect(call::DELETE, malloced, 0, "alloc-dealloc-mismatch",
         "allocated by malloc and freed by operator delete");
  expect(call::DELETE_ARRAY, malloced, 0, "alloc-dealloc-mismatch",
         "allocated by malloc and freed by operator delete[]");
  ::operator delete[](array);
  ::operator delete(single);
  free(malloced);
}

Test(cxx, new_delete_size_mismatch) {
  void *single = ::operator new(24);
  expect(call::DELETE_SIZED, single, 32, "new-delete-size-mismatch",
         "operator delete of 32 byte(s), but the block at");
  void *array = ::operator new[](40);
  expect(call::DELETE_ARRAY_SIZED, array, 39, "new-delete-size-mismatch",
         "allocated with 40 bytes by operator new[]");
  ::operator delete(single, 24);
  ::operator delete[](array, 40);
}
