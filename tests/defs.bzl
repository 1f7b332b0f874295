"""Test variants: the same Criterion sources against each build of segalloc."""

load("//tools:copts.bzl", "criterion_test")

# (variant, prefixed library, extra copts). The debug build's line goes
# here once //debug:segalloc_debug_prefixed exists.
VARIANTS = [
    ("prod", "//alloc:segalloc_prefixed", []),
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
