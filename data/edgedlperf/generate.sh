#!/usr/bin/env bash
# The commands that generated this dataset (run from the repository root, .[train] installed).
# Every step is resumable: killing it and running the script again continues where it stopped.
# Round 1 gives every space a first share; round 2 completes the reference counts.
set -euo pipefail
EP=${EDGE_PERF:-edge-perf}
W=${WORKERS:-2}
for round in "cnn-cifar10 500" "cnn-kws 500" "vit-cifar100 250" "cnn-imagenet 250" \
             "cnn-cifar10 2000" "cnn-kws 1000" "vit-cifar100 1000" "cnn-imagenet 2000"; do
  set -- $round
  $EP dataset generate --space "$1" --count "$2" --workers "$W"
done
# The fifth space, real architecture families (its records carry Vela's per-layer cycles per
# operator); then a sample of the four older spaces relabelled with per-layer cycles.
$EP dataset generate --space families --count 5000 --workers "$W"
for s in "cnn-kws 200" "cnn-cifar10 200" "vit-cifar100 100" "cnn-imagenet 30"; do
  set -- $s
  python -m trainer.layers_pass --space "$1" --count "$2" --workers "$W"
done
# Live CPU latency: serially, with nothing else heavy running; then the 5% noise-floor pass.
EDGE_PERF_INTERPRETER=litert $EP dataset label-cpu --pass 1 --min-time 0.3
EDGE_PERF_INTERPRETER=litert $EP dataset label-cpu --pass 2 --min-time 0.3
