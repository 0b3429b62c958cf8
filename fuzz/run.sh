#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (each links the real C core, scripts/csrc-sources.sh) with
# ASan+UBSan, then runs each for a bounded time on its seed corpus.
#
#   fuzz/run.sh                  build, fuzz every target FUZZ_SECONDS (10) s each
#   fuzz/run.sh fuzz_frame ...   only these targets (names as in fuzz/fuzz_*.c)
#   fuzz/run.sh --regress        build, run every corpus input once, no fuzzing
#   fuzz/run.sh --build          build only
#
# Exits non-zero when a target crashes, leaks, hangs or breaks a CHECK, and
# prints execs/s per target. New crash inputs are copied to fuzz/crashes/<target>/;
# to keep one as a regression test, move it to fuzz/corpus/<target>/ (every
# input there is run first on each run, so it is re-checked every time).
#
# Environment: FUZZ_SECONDS (per target, default 10), FUZZ_OUT (build and
# scratch directory, default build/fuzz), FUZZ_ARGS (more libFuzzer flags).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${FUZZ_SECONDS:-10}
OUT=${FUZZ_OUT:-$ROOT/build/fuzz}
MODE=fuzz
TARGETS=()
for a in "$@"; do
  case "$a" in
    --regress) MODE=regress ;;
    --build) MODE=build ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    fuzz_*) TARGETS+=("$a") ;;
    *) echo "fuzz/run.sh: unknown argument '$a' (see --help)" >&2; exit 2 ;;
  esac
done
if [ ${#TARGETS[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.c; do TARGETS+=("$(basename "$f" .c)"); done
fi

# ---- tools: clang with its sanitizer and libFuzzer runtimes, libuv, libcrypto ----
need=()
command -v clang >/dev/null 2>&1 || need+=(clang)
if command -v clang >/dev/null 2>&1; then
  [ -f "$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a)" ] || need+=(libclang-rt-14-dev)
else
  need+=(libclang-rt-14-dev)
fi
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
pkg-config --exists libuv 2>/dev/null || need+=(libuv1-dev)
pkg-config --exists libcrypto 2>/dev/null || need+=(libssl-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "fuzz/run.sh: installing ${need[*]}" >&2
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# ---- build: csrc once, then one binary per target ----
CFLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE -I"$ROOT/csrc")
read -r -a UV_CFLAGS <<<"$(pkg-config --cflags libuv libcrypto)"
read -r -a UV_LIBS <<<"$(pkg-config --libs libuv libcrypto)"
mkdir -p "$OUT/obj" "$OUT/work" "$OUT/artifacts"
t0=$(date +%s)
rm -f "$OUT"/obj/*.o
# shellcheck disable=SC2016
scripts/csrc-sources.sh | xargs -P "$(nproc)" -I{} sh -c \
  'clang "$@" -c {} -o "'"$OUT"'/obj/$(echo {} | sed "s@^csrc/@@; s@/@_@g; s@\.c\$@@").o"' _ "${CFLAGS[@]}" "${UV_CFLAGS[@]}"
# the targets bring libFuzzer's main: csrc must not define another
if nm --defined-only "$OUT"/obj/*.o | grep -qE ' T main$'; then
  echo "fuzz/run.sh: a csrc core file defines main(); the fuzz targets cannot link it" >&2
  exit 1
fi
for t in "${TARGETS[@]}"; do
  [ -f "fuzz/$t.c" ] || { echo "fuzz/run.sh: no fuzz/$t.c" >&2; exit 2; }
  clang "${CFLAGS[@]}" -Wall -Wextra "${UV_CFLAGS[@]}" -o "$OUT/$t" "fuzz/$t.c" "$OUT"/obj/*.o "${UV_LIBS[@]}" -pthread
done
echo "== fuzz: built ${#TARGETS[@]} targets in $(($(date +%s) - t0)) s into $OUT"
[ "$MODE" = build ] && exit 0

# ---- run ----
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
summary=()
for t in "${TARGETS[@]}"; do
  seeds="fuzz/corpus/$t"
  mkdir -p "$seeds" "$OUT/work/$t" "$OUT/artifacts/$t"
  args=(-print_final_stats=1 -timeout=10 -rss_limit_mb=2048 "-artifact_prefix=$OUT/artifacts/$t/")
  [ -f "fuzz/dict/$t.dict" ] && args+=("-dict=fuzz/dict/$t.dict")
  if [ "$MODE" = regress ]; then
    args+=(-runs=0)
    dirs=("$seeds")
  else
    args+=("-max_total_time=$SECS")
    dirs=("$OUT/work/$t" "$seeds") # new inputs go to the first, never into the repo
  fi
  # shellcheck disable=SC2206
  extra=(${FUZZ_ARGS:-})
  log="$OUT/$t.log"
  before=$(ls "$OUT/artifacts/$t" | wc -l)
  start=$(date +%s.%N)
  rc=0
  "$OUT/$t" "${args[@]}" "${extra[@]}" "${dirs[@]}" >"$log" 2>&1 || rc=$?
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec/ { print $2 }' "$log" | tail -1)
  ninputs=$(ls "$seeds" | wc -l)
  if [ "$rc" -ne 0 ] || [ -z "$execs" ]; then
    failed+=("$t")
    result="FAILED (exit $rc)"
    echo "== fuzz: $t FAILED (exit $rc); end of $log:" >&2
    grep -vE '^(#[0-9]+|INFO:|MS:|[[:space:]]*$)' "$log" | tail -60 >&2 || true
    mkdir -p "fuzz/crashes/$t"
    for f in $(ls -t "$OUT/artifacts/$t" | head -n $(($(ls "$OUT/artifacts/$t" | wc -l) - before))); do
      cp "$OUT/artifacts/$t/$f" "fuzz/crashes/$t/$f"
      echo "== fuzz: input saved as fuzz/crashes/$t/$f ($(wc -c <"fuzz/crashes/$t/$f") bytes):" >&2
      od -An -tx1 -v "fuzz/crashes/$t/$f" | head -8 >&2
      echo "   reproduce: $OUT/$t fuzz/crashes/$t/$f" >&2
      echo "   keep as a regression test: git mv fuzz/crashes/$t/$f fuzz/corpus/$t/" >&2
    done
  else
    result=ok
  fi
  summary+=("$(printf '%-12s %-18s %10s execs %8s execs/s %6ss  %s corpus inputs' "$t" "$result" "${execs:-0}" "${rate:-0}" "$secs" "$ninputs")")
done
echo "== fuzz summary ($MODE$([ "$MODE" = fuzz ] && echo ", ${SECS} s per target"))"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "== fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "== fuzz: ${#TARGETS[@]} targets ok"
