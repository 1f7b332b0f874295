#!/usr/bin/env bash
# bench/run.sh: segalloc against glibc, jemalloc, tcmalloc, mimalloc and
# the memory-debugging tools (ASan, DUMA, Electric Fence), side by side.
# One command: installs missing peers, builds, runs every workload under
# every allocator in interleaved rounds, then writes
# bench/results/<date>.{md,csv,png} and prints the table.
#
# Usage: bench/run.sh [--quick] [--scale N] [--rounds N] [--budget MIN]
#                     [--allocators "a b ..."] [--workloads "w1 w2 ..."]
#                     [--timeout S] [--tool-timeout S] [--no-install]
#                     [--no-bazel] [--out DIR] [--label NAME]
#
# Environment overrides: SEGALLOC_SO, SEGALLOC_DEBUG_SO (the .so files to
# preload as segalloc / segalloc-debug), BENCH_ALLOCATORS, BENCH_BUILD,
# BAZEL_TIMEOUT, GUARD_SAMPLE (N of segalloc-guard-sample, default 1000).
# See bench/README.md for the workloads and how to read the results.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$BENCH_DIR")
BUILD=${BENCH_BUILD:-$BENCH_DIR/build}
OUT=$BENCH_DIR/results
LABEL=""
ROUNDS=""
BUDGET=0 # minutes; 0: no limit
QUICK=0
SCALE="" # divides every workload's work; --quick: 4
TIMEOUT=120 # per run; the slowest (ASan large-2t) takes ~25 s
# DUMA, Electric Fence and segalloc-guard-all take minutes on most
# workloads (a page mapping per block): a shorter limit keeps a debug run's
# first round bounded.
TOOL_TIMEOUT=30
INSTALL=1
BAZEL=1
ALLOCATORS=${BENCH_ALLOCATORS:-"segalloc segalloc-debug glibc jemalloc tcmalloc mimalloc asan"}
# The default leaves out the page-per-block tools (duma, electric-fence,
# segalloc-guard-sample, segalloc-guard-all) and segalloc-guard-off (the
# debug build with guards off, the base that sampling's cost is measured
# from): a debug run names them.
GUARD_SAMPLE=${GUARD_SAMPLE:-1000}
ONLY_WORKLOADS=""
SEGALLOC_SO=${SEGALLOC_SO:-$REPO/bazel-bin/alloc/libsegalloc.so}
SEGALLOC_DEBUG_SO=${SEGALLOC_DEBUG_SO:-$REPO/bazel-bin/debug/libsegalloc_debug.so}
BAZEL_TIMEOUT=${BAZEL_TIMEOUT:-900}
LIBDIR=/usr/lib/x86_64-linux-gnu
# Not `python3`: the first one on PATH may be a pyenv build without
# matplotlib. The Debian one is what python3-matplotlib installs into.
PY=/usr/bin/python3

usage() {
  sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

while (($# > 0)); do
  case $1 in
  --quick) QUICK=1 ;;
  --scale) SCALE=$2; shift ;;
  --rounds) ROUNDS=$2; shift ;;
  --budget) BUDGET=$2; shift ;;
  --allocators) ALLOCATORS=$2; shift ;;
  --workloads) ONLY_WORKLOADS=$2; shift ;;
  --timeout) TIMEOUT=$2; shift ;;
  --tool-timeout) TOOL_TIMEOUT=$2; shift ;;
  --no-install) INSTALL=0 ;;
  --no-bazel) BAZEL=0 ;;
  --out) OUT=$2; shift ;;
  --label) LABEL=$2; shift ;;
  -h | --help) usage 0 ;;
  *) echo "run.sh: unknown argument '$1'" >&2; usage 64 >&2 ;;
  esac
  shift
done
if [[ -z $ROUNDS ]]; then
  ROUNDS=$((QUICK ? 3 : 5))
fi
if [[ -z $SCALE ]]; then
  SCALE=$((QUICK ? 4 : 1))
fi
if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ && $BUDGET =~ ^[0-9]+$ && $SCALE =~ ^[1-9][0-9]*$ ]]; then
  echo "run.sh: --rounds and --scale need positive integers, --budget minutes" >&2
  exit 64
fi

# measure(1) forwards Ctrl-C to the workload and returns; stop here too
# rather than going on with the next run.
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM

say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# ---------------------------------------------------------------- install
# Peers and tools, installed only when missing (one apt-get update at most).
PKGS=(libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0 duma electric-fence
  python3-matplotlib python3-numpy clang libclang-rt-14-dev gcc perl python3
  bazel-bootstrap)
install_missing() {
  local missing=() p
  for p in "${PKGS[@]}"; do
    # dpkg -s also succeeds for removed-but-configured packages.
    if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
      missing+=("$p")
    fi
  done
  ((${#missing[@]} == 0)) && return 0
  if ((EUID != 0)); then
    say "not root, cannot install: ${missing[*]} (allocators without their .so will be skipped)"
    return 0
  fi
  say "installing missing packages: ${missing[*]}"
  apt-get update -q || say "apt-get update failed; trying the install anyway"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" ||
    say "apt-get install failed; continuing with what is there"
}
((INSTALL)) && install_missing

# ------------------------------------------------------------------ build
mkdir -p "$BUILD"/{bin,asan,preload,logs,input} "$OUT"
CFLAGS=(-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -pthread)
C_WORKLOADS=(churn realloc_grow realloc_steps larson prodcons cache_scratch
  large_churn mstress bignum)
say "building workloads into $BUILD"
cc "${CFLAGS[@]}" -o "$BUILD/bin/measure" "$BENCH_DIR/src/measure.c"
HAVE_ASAN=1
for w in "${C_WORKLOADS[@]}"; do
  cc "${CFLAGS[@]}" -o "$BUILD/bin/$w" "$BENCH_DIR/src/$w.c"
  # The same source under ASan (no preload), for the debug-build comparison.
  if ((HAVE_ASAN)) && ! clang "${CFLAGS[@]}" -fsanitize=address \
    -fno-omit-frame-pointer -o "$BUILD/asan/$w" "$BENCH_DIR/src/$w.c" \
    2>"$BUILD/logs/asan-build.log"; then
    say "clang -fsanitize=address failed (see $BUILD/logs/asan-build.log); asan will be skipped"
    HAVE_ASAN=0
  fi
done

# segalloc is built by Bazel. It may not build yet (or another engineer may
# hold the Bazel lock for a while); the peers are benchmarked regardless.
if ((BAZEL)); then
  say "bazel build //alloc:libsegalloc.so //debug:libsegalloc_debug.so (log: $BUILD/logs/bazel.log)"
  if (cd "$REPO" && timeout "$BAZEL_TIMEOUT" bazel build --keep_going \
    //alloc:libsegalloc.so //debug:libsegalloc_debug.so) \
    >"$BUILD/logs/bazel.log" 2>&1; then
    say "bazel build ok"
  else
    say "bazel build failed or partly failed; carrying on with whatever .so exists"
  fi
fi

# Copy the segalloc .so files: others may rebuild bazel-bin mid-run, and a
# benchmark must measure one binary throughout.
# ENVS: the allocator's options (measure -E), set in the child only. LIMIT:
# an address-space cap in MiB (measure -A) for the tools that by default
# never reuse freed memory, so they fail a run instead of taking the RAM of
# a machine shared with others.
declare -A PRELOAD SKIP_REASON ENVS LIMIT TIMEOUT_OF
for a in $ALLOCATORS; do
  case $a in
  glibc) PRELOAD[$a]="" ;;
  asan) ((HAVE_ASAN)) || SKIP_REASON[$a]="clang -fsanitize=address build failed" ;;
  segalloc | segalloc-debug | segalloc-guard-*)
    src=$SEGALLOC_SO
    [[ $a == segalloc-debug || $a == segalloc-guard-* ]] && src=$SEGALLOC_DEBUG_SO
    if [[ -f $src ]]; then
      cp -f "$src" "$BUILD/preload/lib$a.so"
      PRELOAD[$a]=$BUILD/preload/lib$a.so
      case $a in
      segalloc-guard-all)
        ENVS[$a]="SEGALLOC_GUARD=all"
        TIMEOUT_OF[$a]=$((TOOL_TIMEOUT < TIMEOUT ? TOOL_TIMEOUT : TIMEOUT))
        ;;
      segalloc-guard-sample) ENVS[$a]="SEGALLOC_GUARD=sample:$GUARD_SAMPLE" ;;
      segalloc-guard-off) ENVS[$a]="SEGALLOC_GUARD=off" ;;
      esac
      # A build without guard mode ignores SEGALLOC_GUARD (the column
      # would measure plain debug); one with it rejects a bad value when
      # it reads its options, at the first malloc (which /bin/true may
      # never make: run a workload).
      probe=$(SEGALLOC_GUARD=bogus LD_PRELOAD=${PRELOAD[$a]} \
        "$BUILD/bin/churn" -n 10 2>&1 >/dev/null) || true
      if [[ $a == segalloc-guard-* && $probe != *"bad option SEGALLOC_GUARD"* ]]; then
        SKIP_REASON[$a]="option not supported by this build (SEGALLOC_GUARD=bogus is not rejected by $src)"
      fi
    else
      if [[ $a == segalloc-debug && ! -f $REPO/debug/BUILD ]]; then
        SKIP_REASON[$a]="$src not found: debug/BUILD does not exist yet, so //debug:libsegalloc_debug.so cannot be built; column skipped"
      else
        SKIP_REASON[$a]="$src not found (not built yet, or the build failed: see $BUILD/logs/bazel.log)"
      fi
    fi
    ;;
  jemalloc | tcmalloc | mimalloc)
    case $a in
    jemalloc) so=$LIBDIR/libjemalloc.so.2 ;;
    tcmalloc) so=$LIBDIR/libtcmalloc_minimal.so.4 ;;
    mimalloc) so=$LIBDIR/libmimalloc.so.2 ;;
    esac
    if [[ -f $so ]]; then PRELOAD[$a]=$so; else SKIP_REASON[$a]="$so not found"; fi
    ;;
  duma | electric-fence)
    # Their defaults, but for malloc(0), which Electric Fence traps unless
    # told (DUMA allows it by default), and DUMA's startup banner.
    if [[ $a == duma ]]; then
      so=/usr/lib/libduma.so.0 ENVS[$a]="DUMA_DISABLE_BANNER=1"
    else
      so=/usr/lib/libefence.so.0 ENVS[$a]="EF_ALLOW_MALLOC_0=1"
    fi
    LIMIT[$a]=3072
    TIMEOUT_OF[$a]=$((TOOL_TIMEOUT < TIMEOUT ? TOOL_TIMEOUT : TIMEOUT))
    if [[ -f $so ]]; then PRELOAD[$a]=$so; else SKIP_REASON[$a]="$so not found"; fi
    ;;
  *) SKIP_REASON[$a]="unknown allocator name" ;;
  esac
done

# A preload that cannot even run `true` would make every row FAIL; that is
# still worth reporting (the table shows it), so only warn here.
RUN_ALLOCS=()
for a in $ALLOCATORS; do
  if [[ -n ${SKIP_REASON[$a]:-} ]]; then
    say "SKIP allocator $a: ${SKIP_REASON[$a]}"
    continue
  fi
  RUN_ALLOCS+=("$a")
  if [[ -n ${PRELOAD[$a]:-} ]] && ! env ${ENVS[$a]:-} LD_PRELOAD=${PRELOAD[$a]} /bin/true 2>/dev/null; then
    say "WARNING: LD_PRELOAD=${PRELOAD[$a]} /bin/true fails; expect FAIL rows for $a"
  fi
done
if ((${#RUN_ALLOCS[@]} == 0)); then
  echo "run.sh: no allocator left to run" >&2
  exit 1
fi

# -------------------------------------------------------------- workloads
# Sizes: the full run is tuned so each run takes ~0.2-1 s of CPU under
# glibc on the 2-core dev machine (ASan takes 1.3-25x that);
# --scale N divides the work by N (gcc: 50/N functions, at least 10);
# --quick is --scale 4 with 3 rounds. Threaded
# workloads run at 1 thread and at nproc threads (per-thread work is fixed,
# so with enough cores the ideal wall time does not change with threads).
NPROC=$(nproc)
S=$SCALE
GCC_FUNCS=$((50 / S > 10 ? 50 / S : 10))
"$PY" "$BENCH_DIR/workloads/gen_c.py" "$GCC_FUNCS" >"$BUILD/input/big.c"

# name|kind|command (kind "c": a bench/src program, run as bin/ or asan/;
# kind "real": an installed program, asan n/a).
WL=()
add_c() { WL+=("$1|c|$2"); }
add_threaded() { # name, program + args without -t
  add_c "$1-1t" "$2 -t 1"
  if ((NPROC > 1)); then add_c "$1-${NPROC}t" "$2 -t $NPROC"; fi
}
add_c churn-lifo "churn -o lifo -n $((10000000 / S))"
add_c churn-random "churn -o random -n $((10000000 / S))"
add_c churn-20k-small "churn -o random -w 20000 -m 8 -M 263 -d uniform -n $((10000000 / S))"
add_c churn-20k-16k "churn -o random -w 20000 -m 8 -M 16384 -n $((2000000 / S))"
add_c bignum "bignum -n $((3000000 / S))"
add_c realloc "realloc_grow -n $((8000000 / S))"
add_c realloc-steps "realloc_steps -n $((100000 / S))"
add_threaded larson "larson -n $((4000000 / S))"
add_c larson-handoff-2t "larson -t 2 -x 0 -h 16 -n $((10000000 / S))"
add_threaded prodcons "prodcons -n $((2000000 / S))"
add_c mstress-2t "mstress -t 2 -n $((50000 / S))"
add_threaded cache-scratch "cache_scratch -n $((30000 / S)) -r 2000"
add_threaded large "large_churn -n $((20000 / S))"
add_c huge-64-slots "large_churn -w 64 -m 100 -M 2100 -x ends -n $((400000 / S))"
add_c malloc-large "large_churn -w 20 -m 5120 -M 25600 -x all -d uniform -n $((250 / S))"
WL+=("python|real|env PYTHONMALLOC=malloc PYTHONHASHSEED=0 $PY $BENCH_DIR/workloads/alloc_heavy.py $((12000 / S))")
WL+=("gcc|real|gcc -O2 -S -o - $BUILD/input/big.c")
WL+=("perl|real|env PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 /usr/bin/perl $BENCH_DIR/workloads/words.pl $((20000 / S))")

if [[ -n $ONLY_WORKLOADS ]]; then
  keep=()
  for entry in "${WL[@]}"; do
    for w in $ONLY_WORKLOADS; do
      [[ ${entry%%|*} == "$w" ]] && keep+=("$entry")
    done
  done
  WL=("${keep[@]}")
  ((${#WL[@]} > 0)) || { echo "run.sh: no workload matches '$ONLY_WORKLOADS'" >&2; exit 64; }
fi

# ------------------------------------------------------------ machine info
DATE=$(date -u +%Y-%m-%d)
STEM=$DATE
((QUICK)) && STEM=$DATE-quick
[[ -n $LABEL ]] && STEM=$STEM-$LABEL
CSV=$OUT/$STEM.csv
META=$BUILD/meta.txt
pkgver() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo missing; }
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "mode: $( ((QUICK)) && echo quick || echo full), work scaled 1/$S, $ROUNDS rounds$( ((BUDGET)) && echo " at most (budget $BUDGET min)"), timeout ${TIMEOUT}s per run (DUMA, Electric Fence, guard all: ${TOOL_TIMEOUT}s)"
  echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), nproc $NPROC"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel: $(uname -r)"
  echo "glibc: $(ldd --version 2>&1 | head -1 | sed 's/^ldd //')"
  echo "cc: $(cc --version | head -1); clang: $(clang --version 2>/dev/null | head -1)"
  echo "peers: jemalloc $(pkgver libjemalloc2), tcmalloc-minimal $(pkgver libtcmalloc-minimal4), mimalloc $(pkgver libmimalloc2.0), duma $(pkgver duma), electric-fence $(pkgver electric-fence)"
  echo "segalloc: commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')$(
    # Others may be editing the checkout: say when the build is not HEAD's.
    n=$(git -C "$REPO" status --porcelain -- alloc debug 2>/dev/null | wc -l)
    ((n == 0)) || echo " + $n uncommitted file(s) in alloc/ debug/")"
  for a in segalloc segalloc-debug; do
    if [[ -n ${PRELOAD[$a]:-} ]]; then
      echo "$a.so: sha256 $(sha256sum "${PRELOAD[$a]}" | cut -c1-16)"
    fi
  done
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "ASAN_OPTIONS: ${ASAN_OPTIONS:-(default)}"
} >"$META"
for a in $ALLOCATORS; do
  [[ -n ${SKIP_REASON[$a]:-} ]] && echo "skipped: $a: ${SKIP_REASON[$a]}" >>"$META"
done
printf '%s\n' "${WL[@]}" >"$BUILD/workloads.txt"

# -------------------------------------------------------------------- run
# Interleaved: every round runs every workload under every allocator, so
# slow drift (other jobs on the machine, thermal state) hits all allocators
# alike. The allocator order rotates each round to avoid a fixed position.
echo "round,workload,allocator,status,wall_s,maxrss_kib,user_s,sys_s,minflt,out_hash" >"$CSV"
declare -A DEAD # workload/allocator pairs that timed out: not rerun
n_alloc=${#RUN_ALLOCS[@]}
say "running ${#WL[@]} workloads x $n_alloc allocators (${RUN_ALLOCS[*]}) x $ROUNDS rounds$( ((BUDGET)) && echo " at most, stopping before $BUDGET min")"
# Allocator order: a fresh shuffle per round and workload (seeded, so a
# rerun repeats it), so no allocator always runs right after the same one.
shuffle_order() { # sets order to RUN_ALLOCS shuffled (Fisher-Yates)
  order=("${RUN_ALLOCS[@]}")
  local i j t
  for ((i = ${#order[@]} - 1; i > 0; i--)); do
    j=$((RANDOM % (i + 1)))
    t=${order[i]} order[i]=${order[j]} order[j]=$t
  done
}
RANDOM=42
started=$SECONDS
round_start=$SECONDS
for ((r = 1; r <= ROUNDS; r++)); do
  # --budget: start a round only if one more round as long as the last one
  # fits (not the average: the first round, which meets the timeouts that
  # later rounds skip, is often the longest).
  last=$((SECONDS - round_start))
  round_start=$SECONDS
  if ((BUDGET && r > 1)) && ((SECONDS - started + last > BUDGET * 60)); then
    say "stopping after $((r - 1)) rounds: the next would overrun --budget $BUDGET min"
    break
  fi
  for entry in "${WL[@]}"; do
    IFS='|' read -r name kind cmd <<<"$entry"
    line="round $r/$ROUNDS $(printf '%-16s' "$name")"
    shuffle_order
    for a in "${order[@]}"; do
      [[ $a == asan && $kind == real ]] && continue
      if [[ -n ${DEAD[$name/$a]:-} ]]; then
        # Rerunning a hang costs a full timeout each round; record it.
        echo "$r,$name,$a,timeout-skipped,,,,,," >>"$CSV"
        line+=" $a:skip"
        continue
      fi
      read -r -a argv <<<"$cmd"
      preload=""
      if [[ $kind == c ]]; then
        if [[ $a == asan ]]; then
          argv[0]=$BUILD/asan/${argv[0]}
        else
          argv[0]=$BUILD/bin/${argv[0]}
        fi
      fi
      [[ $a != asan ]] && preload=${PRELOAD[$a]}
      opts=()
      for e in ${ENVS[$a]:-}; do opts+=(-E "$e"); done
      [[ -n ${LIMIT[$a]:-} ]] && opts+=(-A "${LIMIT[$a]}")
      log=$BUILD/logs/$name.$a.r$r
      res=$("$BUILD/bin/measure" -T "${TIMEOUT_OF[$a]:-$TIMEOUT}" -p "$preload" "${opts[@]}" \
        -o "$log.out" -e "$log.err" -- "${argv[@]}") || true
      read -r status wall rss user sys minflt <<<"${res:-error 0 0 0 0 0}"
      hash=$(sha256sum "$log.out" 2>/dev/null | cut -c1-16) || hash=none
      echo "$r,$name,$a,$status,$wall,$rss,$user,$sys,$minflt,$hash" >>"$CSV"
      [[ $status == timeout ]] && DEAD[$name/$a]=1
      if [[ $status == ok ]]; then
        line+=" $a:$(printf '%.2f' "$wall")"
        rm -f "$log.err" # keep the logs of failures only
      else
        line+=" $a:$status"
      fi
      # stdout of the real programs is large (gcc's assembly); the hash is
      # what is compared, so drop the file once hashed.
      rm -f "$log.out"
    done
    say "$line"
  done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"

# ----------------------------------------------------------------- report
say "writing $OUT/$STEM.md and $OUT/$STEM.png"
"$PY" "$BENCH_DIR/report.py" --csv "$CSV" --meta "$META" \
  --workloads "$BUILD/workloads.txt" --allocators "${RUN_ALLOCS[*]}" \
  --md "$OUT/$STEM.md" --png "$OUT/$STEM.png" --logs "$BUILD/logs"
cat "$OUT/$STEM.md"
