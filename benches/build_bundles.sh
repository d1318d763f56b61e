#!/usr/bin/env bash
# Train the bundled predictors on the committed dataset and export them into the package.
# Run from the repository root with .[train] installed. Resumable: `edge-perf train` continues
# an unfinished run in the same --out folder.
set -euo pipefail
EP=${EDGE_PERF:-edge-perf}
EPOCHS=${EPOCHS:-250}
BUCKETS=${BUCKETS:-64x1,64x16,256x1,1536x1}
CPU_TARGET=${CPU_TARGET:-$(EDGE_PERF_INTERPRETER=litert python -c "from benches.labelers.cpu import cpu_target; print(cpu_target(1))")}
mkdir -p .cache/bundles
for target in ethos-u55-128 "$CPU_TARGET"; do
  $EP train --target "$target" --mode generalized --out ".cache/bundles/$target" \
      --epochs "$EPOCHS" --patience 40 --lr 0.0005 --hidden 64 --gnn-layers 8 --dense-layers 4 \
      --dense-width 1024 --dropout 0.1 ${TRAIN_ARGS:-}
  python -m converters.export ".cache/bundles/$target" "edge_predictor/bundles/$target" \
      --buckets "$BUCKETS" --float16 --max-rel-diff 1e-2
done
python -m examples.record_predictions
