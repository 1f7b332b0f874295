"""Test variants: the same Criterion sources against each build of segalloc."""

load("//tools:copts.bzl", "criterion_test")

# (variant, prefixed library, extra copts). SEGALLOC_TEST_DEBUG=1 tells
# tests/test_util.h which facts of the production build don't hold.
VARIANTS = [
    ("prod", "//alloc:segalloc_prefixed", []),
    ("debug", "//debug:segalloc_debug_prefixed", ["-DSEGALLOC_TEST_DEBUG=1"]),
]

def variant_tests(name, srcs, deps = [], **kwargs):
    """One criterion_test `<name>_<variant>` per entry of VARIANTS."""
    for variant, lib, copts in VARIANTS:
        criterion_test(
            name = name + "_" + variant,
            srcs = srcs,
            deps = deps + [lib, "//tests:test_util"],
            copts = copts,
            linkopts = ["-pthread"],
            **kwargs
        )

# (variant, LD_PRELOAD library) for preload_test.sh.
PRELOAD_VARIANTS = [
    ("prod", "//alloc:libsegalloc.so"),
    ("debug", "//debug:libsegalloc_debug.so"),
]

def preload_tests(name, script):
    """One sh_test `<name>_<variant>` per entry of PRELOAD_VARIANTS."""
    for variant, so in PRELOAD_VARIANTS:
        native.sh_test(
            name = name + "_" + variant,
            srcs = [script],
            args = ["$(rootpath %s)" % so],
            data = [so],
            # Real programs, each run twice: ~15 s of CPU, but the 2-core
            # machines are shared, so allow more than "small"'s 60 s.
            size = "medium",
        )
