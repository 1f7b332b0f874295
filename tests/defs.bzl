"""Test variants: the same tests against each build of segalloc."""

load("//tools:copts.bzl", "criterion_test")

# One line per build: (variant, prefixed-API library, drop-in static
# library, LD_PRELOAD library, extra copts). SEGALLOC_TEST_DEBUG=1 tells
# tests/test_util.h which facts of the production build don't hold.
VARIANTS = [
    (
        "prod",
        "//alloc:segalloc_prefixed",
        "//alloc:segalloc",
        "//alloc:libsegalloc.so",
        [],
    ),
    (
        "debug",
        "//debug:segalloc_debug_prefixed",
        "//debug:segalloc_debug",
        "//debug:libsegalloc_debug.so",
        ["-DSEGALLOC_TEST_DEBUG=1"],
    ),
]

def variant_tests(name, srcs, dropin = False, debug_env = {}, **kwargs):
    """One criterion_test `<name>_<variant>` per entry of VARIANTS.

    Linked with the prefixed API, or with dropin = True the drop-in static
    library (malloc, free, ... are segalloc's, Criterion's own included;
    tagged no_asan: ASan owns those names, see .bazelrc). debug_env: the
    debug variant's environment.
    """
    for variant, prefixed, static, _so, copts in VARIANTS:
        criterion_test(
            name = name + "_" + variant,
            srcs = srcs,
            deps = [static if dropin else prefixed, "//tests:test_util"],
            copts = copts,
            linkopts = ["-pthread"],
            tags = ["no_asan"] if dropin else [],
            env = debug_env if variant == "debug" else {},
            **kwargs
        )

def preload_tests(name, script):
    """One sh_test `<name>_<variant>` per entry of VARIANTS: the script
    gets the variant's LD_PRELOAD library as its argument."""
    for variant, _prefixed, _static, so, _copts in VARIANTS:
        native.sh_test(
            name = name + "_" + variant,
            srcs = [script],
            args = ["$(rootpath %s)" % so],
            data = [so],
            tags = ["no_asan"],
            # Real programs, each run twice: ~15 s of CPU, but the 2-core
            # machines are shared, so allow more than "small"'s 60 s.
            size = "medium",
        )
