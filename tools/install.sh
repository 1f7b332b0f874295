#!/usr/bin/env bash
# Builds segalloc with Bazel (-c opt) and installs it for projects that
# build with CMake, pkg-config or plain Make:
#
#   PREFIX/include/segalloc.h, segalloc_debug.h
#   PREFIX/lib/libsegalloc.so, libsegalloc.a              production drop-in
#   PREFIX/lib/libsegalloc-debug.so, libsegalloc-debug.a  debug drop-in
#   PREFIX/lib/pkgconfig/segalloc.pc, segalloc-debug.pc   (the shared ones)
#   PREFIX/lib/cmake/segalloc/segalloc-config.cmake (+ -config-version):
#     find_package(segalloc) gives segalloc::segalloc, segalloc::segalloc-debug
#     (shared) and segalloc::segalloc-static, segalloc::segalloc-debug-static
#
# Usage: tools/install.sh PREFIX      (PREFIX must be absolute)
#
# Every library is a drop-in (//alloc:segalloc, //debug:segalloc_debug):
# malloc, free, ... (and the debug build's checked memcpy, ...) become
# segalloc's, plus the segalloc_* API. Bazel keeps a drop-in as several
# alwayslink archives, so the .a is made here: every object of a build
# linked into one (ld -r), so that the link pulls in the whole allocator
# (constructors included) as soon as anything refers to it; pkg-config and
# CMake add -Wl,--undefined=malloc for a program that never calls malloc
# itself (and so that --as-needed keeps the .so). The .so files have no
# SONAME: a program linked with -lsegalloc records "libsegalloc.so" and
# finds it at run time through the usual search path (LD_LIBRARY_PATH,
# rpath or ldconfig).
set -euo pipefail

VERSION=0.1.0

if [[ $# -ne 1 || $1 != /* ]]; then
  echo "usage: $0 PREFIX   (an absolute path, e.g. /usr/local)" >&2
  exit 2
fi
prefix=$1
cd "$(dirname "$0")/.."

bazel build -c opt //alloc:libsegalloc.so //debug:libsegalloc_debug.so
bin=$(bazel info -c opt bazel-bin)
execroot=$(bazel info -c opt execution_root)

# archives TARGET: "label path" of each (PIC) archive TARGET links, as
# Bazel's CcInfo lists them: the drop-in's own (override.c, ...), the
# prefixed library's and any other the build adds.
archives() {
  bazel cquery -c opt "$1" --output=starlark --starlark:expr='"\n".join([
    "%s %s" % (li.owner, (l.pic_static_library or l.static_library).path)
    for li in providers(target)["CcInfo"].linking_context.linker_inputs.to_list()
    for l in li.libraries if l.pic_static_library or l.static_library])' \
    2>/dev/null
}
mkdir -p "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake/segalloc"
install -m 644 alloc/include/segalloc.h debug/include/segalloc_debug.h \
  "$prefix/include/"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# static_lib OUT TARGET: OUT, one object holding every object of TARGET's
# archives (the PIC ones, so it also links into shared objects). The .so
# links objects, not archives: the archives are built here.
static_lib() {
  local out=$1 list=$tmp/archives path n=0
  archives "$2" >"$list"
  [[ -s $list ]] || { echo "install.sh: no archives for $2" >&2; return 1; }
  # shellcheck disable=SC2046  # one label a line
  bazel build -c opt $(cut -d' ' -f1 "$list")
  while read -r _ path; do
    n=$((n + 1))
    mkdir -p "$tmp/$n"
    (cd "$tmp/$n" && ar x "$execroot/$path")
  done <"$list"
  ld -r -o "$tmp/segalloc.o" "$tmp"/[0-9]*/*.o
  rm -f "$out"
  ar rcs "$out" "$tmp/segalloc.o"
  rm -rf "${tmp:?}"/*
}

# install_variant NAME BAZEL_PKG BAZEL_NAME DESCRIPTION
install_variant() {
  local name=$1 pkg=$2 bname=$3 what=$4
  install -m 755 "$bin/$pkg/lib$bname.so" "$prefix/lib/lib$name.so"
  static_lib "$prefix/lib/lib$name.a" "//$pkg:$bname"
  chmod 644 "$prefix/lib/lib$name.a"
  cat >"$prefix/lib/pkgconfig/$name.pc" <<EOF
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: $name
Description: $what
Version: $VERSION
Cflags: -I\${includedir}
Libs: -L\${libdir} -l$name -Wl,--undefined=malloc
Libs.private: -pthread
EOF
}

install_variant segalloc alloc segalloc \
  "segalloc allocator, drop-in malloc (production build)"
install_variant segalloc-debug debug segalloc_debug \
  "segalloc allocator, drop-in malloc with heap checks (debug build)"

cat >"$prefix/lib/cmake/segalloc/segalloc-config.cmake" <<'EOF'
# find_package(segalloc): imported targets for each build of segalloc, all
# drop-ins (malloc, free, ... and the segalloc_* API; segalloc.h, and
# segalloc_debug.h for the debug build):
#   segalloc::segalloc               libsegalloc.so
#   segalloc::segalloc-debug         libsegalloc-debug.so
#   segalloc::segalloc-static        libsegalloc.a
#   segalloc::segalloc-debug-static  libsegalloc-debug.a
# Written by segalloc's tools/install.sh.
get_filename_component(_segalloc_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
find_package(Threads REQUIRED)

foreach(_segalloc_name segalloc segalloc-debug)
  if(NOT TARGET segalloc::${_segalloc_name})
    # No SONAME: link with -lNAME so the program records the bare file name.
    add_library(segalloc::${_segalloc_name} SHARED IMPORTED)
    set_target_properties(segalloc::${_segalloc_name} PROPERTIES
      IMPORTED_LOCATION "${_segalloc_prefix}/lib/lib${_segalloc_name}.so"
      IMPORTED_NO_SONAME TRUE
      INTERFACE_INCLUDE_DIRECTORIES "${_segalloc_prefix}/include"
      INTERFACE_LINK_LIBRARIES Threads::Threads)
  endif()
  if(NOT TARGET segalloc::${_segalloc_name}-static)
    # One object per archive: any reference pulls in the whole allocator;
    # --undefined=malloc makes that reference.
    add_library(segalloc::${_segalloc_name}-static STATIC IMPORTED)
    set_target_properties(segalloc::${_segalloc_name}-static PROPERTIES
      IMPORTED_LOCATION "${_segalloc_prefix}/lib/lib${_segalloc_name}.a"
      INTERFACE_INCLUDE_DIRECTORIES "${_segalloc_prefix}/include"
      INTERFACE_LINK_OPTIONS "LINKER:--undefined=malloc"
      INTERFACE_LINK_LIBRARIES Threads::Threads)
  endif()
endforeach()
unset(_segalloc_name)
unset(_segalloc_prefix)
EOF

cat >"$prefix/lib/cmake/segalloc/segalloc-config-version.cmake" <<EOF
# find_package(segalloc [X.Y]): any version X.Y with the same major number
# as $VERSION and not newer than it.
set(PACKAGE_VERSION "$VERSION")
set(PACKAGE_VERSION_COMPATIBLE TRUE)
if(PACKAGE_FIND_VERSION)
  if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION OR
     NOT PACKAGE_FIND_VERSION_MAJOR STREQUAL "${VERSION%%.*}")
    set(PACKAGE_VERSION_COMPATIBLE FALSE)
  elseif(PACKAGE_FIND_VERSION VERSION_EQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
EOF

echo "installed segalloc $VERSION into $prefix"
