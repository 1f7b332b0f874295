#!/usr/bin/env bash
# THE demo: builds both segalloc libraries and puts them to work.
#
#   bash tools/demo.sh
#
# 1. Installs what is missing (tools/install_deps.sh: Bazel, gcc, python3,
#    GNU time), then `bazel build` of the production drop-in
#    (//alloc:libsegalloc.so) and the debug build
#    (//debug:libsegalloc_debug.so).
# 2. Runs two real allocation-heavy programs, python3
#    (bench/workloads/alloc_heavy.py with PYTHONMALLOC=malloc) and
#    `gcc -O2 -S` on a generated C file (bench/workloads/gen_c.py), the
#    benchmark's own inputs, under glibc's malloc, then with
#    LD_PRELOAD of each segalloc library; checks that the outputs are
#    identical and prints wall time, CPU time, peak RSS and segalloc's own
#    statistics (SEGALLOC_STATS=1) for every run.
# 3. Compiles three small buggy C programs with plain gcc (examples/
#    heap_overflow.c: a 1-byte heap overflow; examples/use_after_free.c: a
#    write after free; examples/heap_overread.c: a read past the end, which
#    faults at the read because the default guards the first block of each
#    call site) and runs each under the debug build with default options,
#    showing the start of its error report.
#
# Exits non-zero if a build fails, an output differs, a run fails, or the
# debug build misses a bug. Generated files go to a temporary directory
# (removed at exit; KEEP=1 keeps it). Environment: DEMO_SCALE=N multiplies
# the work of the two programs (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

section() { printf '\n=== %s\n' "$*"; }

section "Installing missing packages (if any)"
tools/install_deps.sh bazel-bootstrap gcc python3 time
echo "ok: bazel, gcc, python3, /usr/bin/time present"

section "Building //alloc:libsegalloc.so and //debug:libsegalloc_debug.so"
bazel build //alloc:libsegalloc.so //debug:libsegalloc_debug.so

work="$(mktemp -d "${TMPDIR:-/tmp}/segalloc-demo.XXXXXX")"
if [[ "${KEEP:-0}" == 1 ]]; then
  echo "keeping $work"
else
  trap 'rm -rf "$work"' EXIT
fi
# Copies, so that someone rebuilding in this checkout meanwhile cannot
# change the libraries under the demo.
cp "bazel-bin/alloc/libsegalloc.so" "$work/libsegalloc.so"
cp "bazel-bin/debug/libsegalloc_debug.so" "$work/libsegalloc_debug.so"
chmod u+w "$work"/*.so
declare -A preload=(
  [glibc]=""
  [segalloc]="$work/libsegalloc.so"
  [segalloc-debug]="$work/libsegalloc_debug.so"
)
allocators=(glibc segalloc segalloc-debug)
ulimit -c 0 # the bug demos abort: no core files

# Debian's tools, not whatever else is first in PATH (pyenv shims etc.).
python=/usr/bin/python3
gcc=/usr/bin/gcc
scale="${DEMO_SCALE:-1}"
failures=()

# run TAG ALLOCATOR CMD...: runs CMD with ALLOCATOR preloaded (only into
# CMD, not into /usr/bin/time) and SEGALLOC_STATS=1; stdout, stderr and
# the "wall-s peak-KiB user-s sys-s" line go to $work/TAG.{out,err,time}.
run() {
  local tag="$1" alloc="$2"
  shift 2
  local envs=(env -u LD_PRELOAD SEGALLOC_STATS=1)
  [[ -n "${preload[$alloc]}" ]] && envs+=("LD_PRELOAD=${preload[$alloc]}")
  local rc=0
  /usr/bin/time -f '%e %M %U %S' -o "$work/$tag.time" "${envs[@]}" "$@" \
    >"$work/$tag.out" 2>"$work/$tag.err" || rc=$?
  if ((rc != 0)); then
    failures+=("$tag: exit status $rc")
    echo "FAIL: $tag exited with status $rc; last lines of its stderr:"
    # Without the statistics SEGALLOC_STATS=1 printed.
    grep -Ev '^segalloc: (mapped [0-9]+ bytes|.*class size|[ 0-9]+$)' \
      "$work/$tag.err" | tail -n 15 | sed 's/^/    /'
    return 1
  fi
  if grep -q '^segalloc: ERROR' "$work/$tag.err"; then
    failures+=("$tag: segalloc reported an error")
    echo "FAIL: $tag: segalloc reported an error:"
    grep -A 10 -m 1 '^segalloc: ERROR' "$work/$tag.err" | sed 's/^/    /'
    return 1
  fi
}

# The table row of a run: wall time, CPU time (user+sys: less disturbed
# when other jobs share the machine), peak RSS (largest process: for gcc
# that is cc1), and the statistics line(s) segalloc printed at exit.
row() {
  local tag="$1" workload="$2" alloc="$3" verdict="$4"
  local secs kib user sys cpu mib stats
  read -r secs kib user sys <"$work/$tag.time"
  cpu="$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')"
  mib="$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')"
  # "segalloc: mapped M bytes, in use U bytes in B blocks, S segments",
  # once per process that ran on segalloc (gcc runs cc1 under it too).
  stats="$(awk '/^segalloc: mapped [0-9]+ bytes,/ {
                  n++; if ($3 > m) { m = $3; b = $10 }
                }
                END {
                  if (n == 0) { print "-"; exit }
                  printf "mapped %.1f MiB, %d blocks live", m / 1048576, b
                  if (n > 1) printf " (largest of %d processes)", n
                }' "$work/$tag.err")"
  printf '%-7s %-15s %7s %7s %9s  %-7s %s\n' "$workload" "$alloc" \
    "$secs" "$cpu" "$mib" "$verdict" "$stats"
}

# --- 2. Real programs -----------------------------------------------------
section "Real programs under glibc, segalloc, segalloc-debug (LD_PRELOAD)"
"$python" bench/workloads/gen_c.py "$((150 * scale))" >"$work/big.c"
echo "python3: bench/workloads/alloc_heavy.py $((25000 * scale)) (PYTHONMALLOC=malloc)"
echo "gcc:     gcc -O2 -S on a generated C file ($(wc -l <"$work/big.c") lines)"

declare -A verdict=()
for alloc in "${allocators[@]}"; do
  printf 'running under %s ...\n' "$alloc"
  verdict[python.$alloc]=FAIL
  if run "python.$alloc" "$alloc" env PYTHONMALLOC=malloc "$python" \
    bench/workloads/alloc_heavy.py "$((25000 * scale))"; then
    verdict[python.$alloc]=ok
  fi
  verdict[gcc.$alloc]=FAIL
  if run "gcc.$alloc" "$alloc" "$gcc" -O2 -S -o "$work/big.$alloc.s" \
    "$work/big.c"; then
    verdict[gcc.$alloc]=ok
  fi
done

# Every output must equal glibc's: python's stdout (it ends with a CRC of
# all it computed), gcc's assembly.
for alloc in segalloc segalloc-debug; do
  if [[ "${verdict[python.$alloc]}" == ok ]] &&
    ! cmp -s "$work/python.glibc.out" "$work/python.$alloc.out"; then
    verdict[python.$alloc]=DIFFERS
    failures+=("python.$alloc: output differs from glibc's")
    diff "$work/python.glibc.out" "$work/python.$alloc.out" | head -n 10 || true
  fi
  if [[ "${verdict[gcc.$alloc]}" == ok ]] &&
    ! cmp -s "$work/big.glibc.s" "$work/big.$alloc.s"; then
    verdict[gcc.$alloc]=DIFFERS
    failures+=("gcc.$alloc: assembly differs from glibc's")
    diff "$work/big.glibc.s" "$work/big.$alloc.s" | head -n 10 || true
  fi
done
for w in python gcc; do
  [[ "${verdict[$w.glibc]}" == ok ]] || verdict[$w.glibc]=FAIL
done

section "Summary (output: same as glibc's?)"
printf '%-7s %-15s %7s %7s %9s  %-7s %s\n' workload allocator "wall s" \
  "cpu s" "peak MiB" output "segalloc stats at exit (SEGALLOC_STATS=1)"
for w in python gcc; do
  for alloc in "${allocators[@]}"; do
    if [[ -s "$work/$w.$alloc.time" ]] &&
      [[ "$(wc -w <"$work/$w.$alloc.time")" == 4 ]]; then
      row "$w.$alloc" "$w" "$alloc" "${verdict[$w.$alloc]}"
    else
      printf '%-7s %-15s %7s %7s %9s  %s\n' "$w" "$alloc" - - - \
        "${verdict[$w.$alloc]}"
    fi
  done
done
echo "(stats are the core's view at exit: under segalloc-debug, blocks held in"
echo " the quarantine count as live; peak MiB is the largest process's RSS)"
if [[ "${verdict[python.glibc]}" == ok ]]; then
  echo "python output ends: $(tail -n 1 "$work/python.glibc.out")"
fi
if [[ "${verdict[gcc.glibc]}" == ok ]]; then
  echo "gcc output: $(wc -l <"$work/big.glibc.s") lines of assembly"
fi

# --- 3. The debug build catches real bugs ---------------------------------
# show_bug NAME EXPECTED_KIND [NAME=VALUE...]: compile examples/NAME.c with
# plain gcc, run it without and then with the debug build (and the given
# options), and check the report's first line.
show_bug() {
  local name="$1" kind="$2" rc=0
  shift 2
  local options=("$@")
  section "Bug demo: examples/$name.c ($kind)"
  "$gcc" -g -O0 -o "$work/$name" "examples/$name.c"
  echo "\$ gcc -g -O0 -o $name examples/$name.c"
  echo "\$ ./$name                    # glibc malloc"
  "$work/$name" >"$work/$name.plain.out" 2>&1 || rc=$?
  sed 's/^/  /' "$work/$name.plain.out"
  echo "  (exit status $rc: glibc did not notice)"
  echo "\$ ${options[*]:+${options[*]} }LD_PRELOAD=.../libsegalloc_debug.so ./$name"
  rc=0
  # In braces with stderr to /dev/null: bash's own "Aborted" notice for the
  # child stays out of the demo's output; the report is in the file.
  { env "${options[@]}" LD_PRELOAD="${preload[segalloc-debug]}" "$work/$name" \
    >"$work/$name.debug.out" 2>"$work/$name.debug.err" || rc=$?; } 2>/dev/null
  sed 's/^/  /' "$work/$name.debug.out"
  head -n 20 "$work/$name.debug.err" | sed 's/^/  /'
  local lines
  lines="$(wc -l <"$work/$name.debug.err")"
  if ((lines > 20)); then echo "  ... ($((lines - 20)) more lines)"; fi
  echo "  (exit status $rc)"
  symbolize "$work/$name" "$work/$name.debug.err"
  if grep -Eq "^segalloc: ERROR: $kind on address 0x[0-9a-f]+" \
    <(head -n 1 "$work/$name.debug.err"); then
    echo "ok: the debug build reported $kind"
  else
    failures+=("$name: no '$kind' report from the debug build")
    echo "FAIL: expected a first line 'segalloc: ERROR: $kind on address 0x...'"
  fi
}
# symbolize PROGRAM REPORT: the report gives frames as (module+offset);
# addr2line turns the first frame in PROGRAM of each backtrace ("accessed
# by", "allocated by", "freed by", "found by") into function, file and
# line.
symbolize() {
  local prog="$1" report="$2" label="" line off where
  command -v addr2line >/dev/null || return 0
  echo "  where, by addr2line on the report's frames in $(basename "$prog"):"
  while IFS= read -r line; do
    case "$line" in
      *" accessed by "* | *" allocated by "* | *" freed by "* | *" found by "*)
        label="${line#segalloc: }"
        label="${label%% by *}"
        ;;
      *"($prog+0x"*)
        [[ -n "$label" ]] || continue
        off="${line##*+}"
        off="${off%)}"
        # A return address: the call is the instruction before it; but
        # frame #0 of an access is the faulting instruction itself.
        [[ "$label" == accessed && "$line" == *"#0 "* ]] || off=$((off - 1))
        where="$(addr2line -f -p -e "$prog" "$(printf '0x%x' $((off)))")"
        where="${where% (discriminator *}"
        printf '    %-9s in %s\n' "$label" "${where//$root\//}"
        label=""
        ;;
    esac
  done <"$report"
}

show_bug heap_overflow heap-buffer-overflow
show_bug use_after_free use-after-free
show_bug heap_overread heap-buffer-overflow

section "Result"
if ((${#failures[@]} > 0)); then
  printf 'FAILED: %s\n' "${failures[@]}"
  exit 1
fi
echo "demo passed: identical outputs under all three allocators; all three bugs caught"
echo "(libraries: $root/bazel-bin/alloc/libsegalloc.so," \
  "$root/bazel-bin/debug/libsegalloc_debug.so)"
