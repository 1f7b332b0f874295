"""The one place segalloc's compiler flags live.

Every cc_* target uses SEGALLOC_COPTS (library code) or SEGALLOC_TEST_COPTS
(tests, benchmarks, fuzz drivers). The flags must work with both gcc (the
default) and clang (`CC=clang bazel ...`).
"""

load("@rules_cc//cc:defs.bzl", "cc_test")

SEGALLOC_COPTS = [
    "-std=c11",
    # mmap flags, MAP_ANONYMOUS, pthread extras etc. need the GNU feature set.
    "-D_GNU_SOURCE",
    "-Wall",
    "-Wextra",
    "-Wshadow",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
    # Set here, not by compilation mode, so fastbuild (what `bazel test`
    # uses by default) tests the code as it ships. assert() stays on unless
    # building with -c opt (which adds -DNDEBUG).
    "-O2",
    "-g",
    # Keeps stacks walkable for perf and sanitizer reports.
    "-fno-omit-frame-pointer",
]

# The allocator itself: hidden symbols but the API (SEGALLOC_API), and no
# PLT indirection between its own functions in the shared library.
SEGALLOC_ALLOC_COPTS = SEGALLOC_COPTS + [
    "-fvisibility=hidden",
    "-fno-semantic-interposition",
]

_C_ONLY = ("-std=c11", "-Wstrict-prototypes", "-Wmissing-prototypes")

# The debug drop-ins' C++ operators (debug/src/cxx.cc): the same flags,
# as C++17 without exceptions (cxx.cc says why).
SEGALLOC_ALLOC_CXX_COPTS = [
    c
    for c in SEGALLOC_ALLOC_COPTS
    if c not in _C_ONLY
] + [
    "-std=c++17",
    "-fno-exceptions",
]

# Tests are plain C too; they only need to drop -Wmissing-prototypes since
# test files define many non-static helpers and Criterion's Test() macro
# defines non-static functions without prior prototypes.
SEGALLOC_TEST_COPTS = [
    c
    for c in SEGALLOC_COPTS
    if c != "-Wmissing-prototypes"
]

# C++ tests (of those operators).
SEGALLOC_TEST_CXX_COPTS = [
    c
    for c in SEGALLOC_TEST_COPTS
    if c not in _C_ONLY
] + [
    "-std=c++17",
    "-fsized-deallocation",  # clang 14 declares sized delete only then
]

def criterion_test(name, srcs, deps = [], copts = [], linkopts = [], **kwargs):
    """A cc_test whose main() is Criterion's (Debian's libcriterion-dev).

    Defaults to size "small" (60 s timeout); pass size/timeout to change it.
    C++ when a source is a .cc file.
    """
    kwargs.setdefault("size", "small")
    cxx = [s for s in srcs if s.endswith(".cc")]
    cc_test(
        name = name,
        srcs = srcs,
        deps = deps,
        copts = (SEGALLOC_TEST_CXX_COPTS if cxx else SEGALLOC_TEST_COPTS) + copts,
        linkopts = ["-lcriterion"] + linkopts,
        **kwargs
    )
