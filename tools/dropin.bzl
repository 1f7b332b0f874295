"""The drop-in builds of segalloc, made the same way for each variant."""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library")
load("//tools:copts.bzl", "SEGALLOC_ALLOC_COPTS")

def segalloc_dropin(name, prefixed, extras = []):
    """Over a prefixed-API library, the drop-in builds of it.

    `name`: a static library that also defines malloc, free, ... (the
    standard names, alloc/src/override.c), and whatever standard names
    the `extras` libraries define (the debug build's checked memcpy, ...). `lib<name>.so`: the same, for
    LD_PRELOAD. --as-needed drops the libstdc++ that Bazel's toolchain
    links by default: a C allocator preloaded into every process must not
    drag it in. -Bsymbolic-functions: malloc calls segalloc_malloc
    directly, not through the PLT (other code still finds this library's
    malloc first).
    """
    cc_library(
        name = name,
        srcs = ["//alloc:src/override.c"],
        copts = SEGALLOC_ALLOC_COPTS,
        alwayslink = 1,
        linkstatic = 1,
        deps = [prefixed] + extras,
    )
    cc_binary(
        name = "lib" + name + ".so",
        linkopts = [
            "-Wl,--as-needed",
            "-Wl,-Bsymbolic-functions",
        ],
        linkshared = 1,
        deps = [":" + name],
    )
