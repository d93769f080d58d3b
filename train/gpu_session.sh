#!/usr/bin/env bash
# One bounded run on a lent GPU, prepared so that none of its minutes go to setting up:
# fine-tune the shipped fill network for MINUTES on data/CBSD432 (validated on data/CBSD68 and
# data/Urban100), pack it beside the shipped restore network as a candidate checkpoint, judge
# it against the shipped file with the shipping rule (bench.compare, on CBSD432 images and the
# half of Urban100 the benchmark leaves out), and measure half-precision latency and training throughput
# (bench.gpu_check). What comes back lands in $OUT: the candidate, the logs, gpu.json.
#
# Here, once (data/ is git-ignored; it travels with `carry`, and the tree that travels must
# stay under 64 MiB: CBSD432, the 16 CBSD68 images the validation reads and the 20 Urban100
# images the benchmark does not, 63 MB):
#   mkdir -p data/CBSD68 data/Urban100 && cp -r ../shared/data/CBSD432 data/ &&
#     ls ../shared/data/CBSD68/*.png | sort | head -16 | xargs cp -t data/CBSD68/ &&
#     ls ../shared/data/Urban100/*.png | sort | tail -20 | xargs cp -t data/Urban100/
# There (the device tool); about 6 + 3 minutes in all, the measurements last so that a run cut
# at the 600 s limit still brings back the candidate and its judgement:
#   run(command="MINUTES=6 train/gpu_session.sh", carry=["data"], timeout_s=600)
# Rehearsed on the CPU (tests/test_gpu_session.py runs this on tiny data):
#   OUT=runs/rehearsal MINUTES=0.2 WORKERS=1 BATCH=2 COMPARE_IMAGES=2 \
#     GPU_CHECK="--device cpu --sizes 256 --repeats 1 --train-seconds 1 --batch 2 --crop 64" \
#     train/gpu_session.sh
# Extra arguments go to train.train (e.g. --lr 2e-4).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder whose files come back}"
MINUTES=${MINUTES:-6}
WORKERS=${WORKERS:-14}                # loader workers: the prefill, not the GPU, sets the pace
BATCH=${BATCH:-48}                    # crops of 160 px per step (fewer when larger)
COMPARE_IMAGES=${COMPARE_IMAGES:-64}
SEED=${SEED:-16}
DATA=${DATA:-data/CBSD432}
VAL_DATA=${VAL_DATA:-data/CBSD68}
OTHER_DATA=${OTHER_DATA:-data/Urban100}  # photographs from outside BSDS500, validated and judged on
GPU_CHECK=${GPU_CHECK:---sizes 1MP 8MP --train-seconds 30}
RUN=${RUN:-runs/gpu-fill-$SEED}       # a run folder that exists is resumed
CANDIDATE=$RUN/candidate.safetensors
SHIPPED=checkpoints/aeapp-repair.safetensors
export PYTHONUNBUFFERED=1
# python3 throughout: the device image has no plain `python`.
mkdir -p "$OUT"

python3 -m train.train --task fill --data "$DATA" --val-data "$VAL_DATA" "$OTHER_DATA" --out "$RUN" \
    --minutes "$MINUTES" --steps 1000000 --batch-size "$BATCH" --crop 160 --crop-max 256 \
    --lr 1e-4 --warmup-steps 200 --latent-noise-prob 0.1 --seed "$SEED" --prefill telea_ns \
    --pixel-loss psnr --fft-weight 0 --model-refine-channels 16 --val-every 4000 \
    --init-from "$SHIPPED" --workers "$WORKERS" "$@" 2>&1 |
    tr '\r' '\n' | grep --line-buffered -v '^\s*$' >"$OUT/train.log"  # progress every 5 s, kept if cut

python3 -m train.ship --fill "$RUN/last.safetensors" --restore "$SHIPPED" \
    --prefill telea_ns_band -o "$CANDIDATE" | tee "$OUT/ship.log"
cp "$CANDIDATE" "$OUT/"

python3 -m bench.compare "$SHIPPED" "$CANDIDATE" --data "$DATA" "$OTHER_DATA" \
    --images "$COMPARE_IMAGES" 2>&1 | tee "$OUT/compare.log"
# shellcheck disable=SC2086  # GPU_CHECK is a list of arguments
python3 -m bench.gpu_check $GPU_CHECK --out "$OUT/gpu.json" 2>&1 | tee "$OUT/gpu_check.log"
