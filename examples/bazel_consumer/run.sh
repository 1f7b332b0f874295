#!/usr/bin/env bash
# Depends on segalloc from another Bazel workspace, for real: writes a
# throwaway workspace (WORKSPACE + BUILD below, hello.c from this folder)
# into ${TMPDIR:-/tmp}/segalloc-consumer, builds //:hello there, which links
# @segalloc//alloc:segalloc statically (and //:hello_debug, the same with
# @segalloc//debug:segalloc_debug), and runs both. That workspace gets its
# own Bazel server, stopped again at the end.
#
# Usage: bash examples/bazel_consumer/run.sh   (after tools/install_deps.sh)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
segalloc="$(cd "$here/../.." && pwd)"
ws="${TMPDIR:-/tmp}/segalloc-consumer"
mkdir -p "$ws"
cp "$here/hello.c" "$ws/hello.c"

cat >"$ws/WORKSPACE" <<EOT
workspace(name = "consumer")

local_repository(
    name = "segalloc",
    path = "$segalloc",
)

# segalloc's BUILD files load @rules_cc, and Bazel 4 fetches rules_java and
# remote_coverage_tools on first use; offline, point all three at the
# stand-ins segalloc keeps in third_party/.
local_repository(
    name = "rules_cc",
    path = "$segalloc/third_party/rules_cc",
)

local_repository(
    name = "rules_java",
    path = "$segalloc/third_party/rules_java",
)

local_repository(
    name = "remote_coverage_tools",
    path = "$segalloc/third_party/remote_coverage_tools",
)
EOT

cat >"$ws/BUILD" <<'EOT'
load("@rules_cc//cc:defs.bzl", "cc_binary")

cc_binary(
    name = "hello",
    srcs = ["hello.c"],
    # The drop-in: malloc, free, ... are segalloc's, plus segalloc.h.
    # @segalloc//alloc:segalloc_prefixed for segalloc_malloc & co. only.
    deps = ["@segalloc//alloc:segalloc"],
)

# The same program on the debug build.
cc_binary(
    name = "hello_debug",
    srcs = ["hello.c"],
    deps = ["@segalloc//debug:segalloc_debug"],
)
EOT

# Debian's /etc/bazel/bazelrc turns on --sandbox_debug (very noisy).
echo "build --nosandbox_debug" >"$ws/.bazelrc"

cd "$ws"
trap 'bazel shutdown >/dev/null 2>&1 || true' EXIT
bazel build //:hello //:hello_debug
./bazel-bin/hello
./bazel-bin/hello_debug
