#!/usr/bin/env bash
# Instructions per request, a count the machine's noise cannot move: each proxy of bench/bench_proxy.py (the
# aiohttp peer, ReverseProxy alone, the full stack with its default settings and with the access log off) runs
# under valgrind's callgrind with instrumentation off; wrk drives it for a while per kind (undecided page, decided
# page, asset) with instrumentation on; instructions counted / requests answered, and the ratio to the peer's
# count in the same run. Kernel time is not counted (the peer's and ours make about the same system calls).
# Needs valgrind and wrk. Run: bench/bench_instructions.sh [seconds per kind, default 8]; MODES="_peer _stack" for some
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_KIND=${1:-8}
PY=${PYTHON:-.venv/bin/python}
BENCH=bench/bench_proxy.py
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 180); do curl -sf -o /dev/null "$1" && return 0; sleep 1; done; echo "$1 did not answer" >&2; exit 1; }

UP_PORT=$(free_port)
"$PY" "$BENCH" _upstream "$UP_PORT" >/dev/null 2>&1 &
wait_up "http://127.0.0.1:$UP_PORT/page.html"
COOKIE=$("$PY" -c "import sys; sys.path.insert(0, '.'); from bench.bench_proxy import consent_cookie; print(consent_cookie())")
UA="Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

declare -A PEER
printf '%-26s %22s %22s %22s\n' target "page, undecided" "page, decided" asset
for mode in ${MODES:-_peer _ours _stack _stack_nolog}; do  # MODES="_peer _stack": a subset (the peer first)
  port=$(free_port)
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/cg.$mode" \
    "$PY" "$BENCH" "$mode" "$port" "http://127.0.0.1:$UP_PORT" >"$WORK/$mode.log" 2>&1 &
  vg=$!
  wait_up "http://127.0.0.1:$port/page.html"
  row=""
  for kind in html decided asset; do
    path=/page.html; header="X-Kind: $kind"
    [ "$kind" = asset ] && path=/app.js
    [ "$kind" = decided ] && header="Cookie: $COOKIE"
    wrk -t1 -c8 -d3s -H "User-Agent: $UA" -H "$header" "http://127.0.0.1:$port$path" >/dev/null  # warm-up
    callgrind_control -i on "$vg" >/dev/null 2>&1
    requests=$(wrk -t1 -c8 -d"${SECONDS_PER_KIND}s" -H "User-Agent: $UA" -H "$header" \
               "http://127.0.0.1:$port$path" | awk '/requests in/ {print $1}')
    callgrind_control -i off "$vg" >/dev/null 2>&1
    callgrind_control -d "$vg" >/dev/null 2>&1
    sleep 1
    dump=$(ls -t "$WORK"/cg."$mode".* | head -1)
    per=$(( $(awk '/^totals:/ {print $2; exit}' "$dump") / requests ))
    rm -f "$dump"
    [ "$mode" = _peer ] && PEER[$kind]=$per
    row+=$(printf '%22s' "$per ($(awk -v a="${PEER[$kind]}" -v b="$per" 'BEGIN {printf "%.2f", a / b}'))")
  done
  kill "$vg"; wait "$vg" 2>/dev/null || true
  printf '%-26s%s\n' "$mode" "$row"
done
echo "(instructions per request; in brackets the peer's count / this one: 1.00 = as cheap as the peer)"
