#!/usr/bin/env bash
# Installs the Debian packages segalloc needs, only those that are missing.
# Usage: tools/install_deps.sh [--fuzz] [package...]   (default: the list below)
#   --fuzz (or CI set in the environment): also the fuzzing toolchain
#   (fuzz/smoke.sh: clang-14's libFuzzer and sanitizer runtimes, AFL++; zip
#   for fuzz/build.sh's seed corpora).
# Idempotent: when everything is installed it touches nothing (no apt-get
# update), so it is cheap enough to run before every test run.
set -euo pipefail

DEFAULT_PKGS=(
  bazel-bootstrap     # the build (Bazel 4.2.3, offline, WORKSPACE mode)
  libcriterion-dev    # unit test framework
  clang               # second compiler, sanitizers
  libclang-rt-14-dev  # clang's sanitizer/fuzzer runtimes
  python3             # tools/test_summary.py
  cmake               # examples/cmake_consumer/run.sh (tools/install.sh's
  make                #   CMake package, pkg-config files)
  pkg-config
  perl
  gcc
  g++                 # the debug build's C++ operators, their tests
  git
)
FUZZ_PKGS=(clang-14 libclang-rt-14-dev afl++ zip unzip)

fuzz=0
[[ -n ${CI:-} ]] && fuzz=1
if [[ ${1:-} == --fuzz ]]; then
  fuzz=1
  shift
fi
if (($# > 0)); then pkgs=("$@"); else pkgs=("${DEFAULT_PKGS[@]}"); fi
((fuzz)) && pkgs+=("${FUZZ_PKGS[@]}")

missing=()
for p in "${pkgs[@]}"; do
  # dpkg -s also succeeds for removed-but-configured packages, so check the
  # Status line rather than the exit code.
  if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
    missing+=("$p")
  fi
done
((${#missing[@]} == 0)) && exit 0

echo "install_deps: installing missing packages: ${missing[*]}" >&2
if ((EUID == 0)); then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "install_deps: not root and no sudo; please install: ${missing[*]}" >&2
  exit 1
fi
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q "${missing[@]}"
