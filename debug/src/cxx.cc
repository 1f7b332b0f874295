// C++ operators new and delete of the debug drop-ins, every form: plain,
// array, sized, aligned (std::align_val_t), nothrow. The debug layer
// (hooks.c) records whether a block came from malloc, new or new[] and
// reports a free, delete or delete[] that doesn't match, or a sized delete
// of the wrong size. new runs the new_handler loop and throws
// std::bad_alloc; the nothrow forms return nullptr instead.
//
// Built with -fno-exceptions: the throw is libstdc++'s __throw_bad_alloc,
// which the exception crosses on its way to the caller. Both libstdc++
// functions used are weak references, so that the .so does not load
// libstdc++ into C programs (which never call new); a C++ program has it.
// Only the drop-ins link this file; alloc/ has no C++.
#include <cstdint>
#include <cstdlib>
#include <new>

extern "C" {
// hooks.c; debug.h declares them, but its headers are C11 only.
void *_sa_dbg_new(std::size_t size, std::size_t align, bool array,
                  const void *frame);
void _sa_dbg_delete(void *p, bool array, std::size_t size, const void *frame);
}

namespace std {
new_handler get_new_handler() noexcept __attribute__((weak));
void __throw_bad_alloc() __attribute__((weak, noreturn));
} // namespace std

#define SA_EXPORT __attribute__((visibility("default")))
// The frame of the operator: backtraces start at its caller.
#define SA_FRAME __builtin_frame_address(0)

namespace {

constexpr std::size_t unsized = SIZE_MAX; // SA_DBG_UNSIZED (debug.h)
constexpr std::size_t default_align = 16; // SA_MIN_ALIGN (types.h)

// [new.delete.single]: try, then call the new_handler and try again; with
// no handler, throw bad_alloc (or, `nothrow`, return nullptr).
void *allocate(std::size_t size, std::size_t align, bool array, bool nothrow,
               const void *frame) {
  for (;;) {
    void *p = _sa_dbg_new(size, align, array, frame);
    if (p != nullptr)
      return p;
    std::new_handler handler =
        &std::get_new_handler != nullptr ? std::get_new_handler() : nullptr;
    if (handler == nullptr) {
      if (nothrow)
        return nullptr;
      if (&std::__throw_bad_alloc != nullptr)
        std::__throw_bad_alloc();
      std::abort(); // no libstdc++: nothing could catch it
    }
    handler();
  }
}

} // namespace

SA_EXPORT void *operator new(std::size_t size) {
  return allocate(size, default_align, false, false, SA_FRAME);
}
SA_EXPORT void *operator new[](std::size_t size) {
  return allocate(size, default_align, true, false, SA_FRAME);
}
SA_EXPORT void *operator new(std::size_t size,
                             const std::nothrow_t &) noexcept {
  return allocate(size, default_align, false, true, SA_FRAME);
}
SA_EXPORT void *operator new[](std::size_t size,
                               const std::nothrow_t &) noexcept {
  return allocate(size, default_align, true, true, SA_FRAME);
}
SA_EXPORT void *operator new(std::size_t size, std::align_val_t align) {
  return allocate(size, static_cast<std::size_t>(align), false, false,
                  SA_FRAME);
}
SA_EXPORT void *operator new[](std::size_t size, std::align_val_t align) {
  return allocate(size, static_cast<std::size_t>(align), true, false, SA_FRAME);
}
SA_EXPORT void *operator new(std::size_t size, std::align_val_t align,
                             const std::nothrow_t &) noexcept {
  return allocate(size, static_cast<std::size_t>(align), false, true, SA_FRAME);
}
SA_EXPORT void *operator new[](std::size_t size, std::align_val_t align,
                               const std::nothrow_t &) noexcept {
  return allocate(size, static_cast<std::size_t>(align), true, true, SA_FRAME);
}

// delete of nullptr does nothing; the alignment needs no check (every
// block records where it starts).
#define SA_DELETE(p, array, size)                                              \
  do {                                                                         \
    if (p != nullptr)                                                          \
      _sa_dbg_delete(p, array, size, SA_FRAME);                                \
  } while (0)

SA_EXPORT void operator delete(void *p) noexcept {
  SA_DELETE(p, false, unsized);
}
SA_EXPORT void operator delete[](void *p) noexcept {
  SA_DELETE(p, true, unsized);
}
SA_EXPORT void operator delete(void *p, std::size_t size) noexcept {
  SA_DELETE(p, false, size);
}
SA_EXPORT void operator delete[](void *p, std::size_t size) noexcept {
  SA_DELETE(p, true, size);
}
SA_EXPORT void operator delete(void *p, std::align_val_t) noexcept {
  SA_DELETE(p, false, unsized);
}
SA_EXPORT void operator delete[](void *p, std::align_val_t) noexcept {
  SA_DELETE(p, true, unsized);
}
SA_EXPORT void operator delete(void *p, std::size_t size,
                               std::align_val_t) noexcept {
  SA_DELETE(p, false, size);
}
SA_EXPORT void operator delete[](void *p, std::size_t size,
                                 std::align_val_t) noexcept {
  SA_DELETE(p, true, size);
}
SA_EXPORT void operator delete(void *p, const std::nothrow_t &) noexcept {
  SA_DELETE(p, false, unsized);
}
SA_EXPORT void operator delete[](void *p, const std::nothrow_t &) noexcept {
  SA_DELETE(p, true, unsized);
}
SA_EXPORT void operator delete(void *p, std::align_val_t,
                               const std::nothrow_t &) noexcept {
  SA_DELETE(p, false, unsized);
}
SA_EXPORT void operator delete[](void *p, std::align_val_t,
                                 const std::nothrow_t &) noexcept {
  SA_DELETE(p, true, unsized);
}
