#!/usr/bin/env bash
# Re-creates every shipped expert of `gir restore` from its config, then exports it next to its card:
#
#   bash configs/experts/train_all.sh            # from the repository root; rerun to continue after a stop
#
# Each expert is one `gir train` run in runs/experts/NAME; a run that already has a training state is
# resumed (`gir train --resume`), a finished one only re-exported. On the 2-core dev machine: noise 8,000 + 6,000
# (stage 2, the blind expert the denoiser starts from), denoiser 12,000 + 6,000 + 10,000 (denoiser, denoiser_low, denoiser_camera), its perceptual twin 2,000 (denoiser_camera_gan), jpeg 4,000 x 4 (stages 1-4) and its perceptual twin 2,000 (jpeg_gan), band
# 4,000 + 4,000 + 2,000 (resize, band, band_stage2), the scratch fill 5,000 + 3,000 (inpaint, inpaint_detected), kernel 6,000 + 3,000 (kernel, kernel_chains) (see each config's header and
# the model cards for measured times). An item CONFIG:EXPERT@N exports the run's N-iteration checkpoint instead of
# its last one.
set -euo pipefail
cd "$(dirname "$0")/../.."
# config:expert it ships as (a later stage continues the previous run and replaces its export)
# ("-": a stage that ships nothing itself; the next config starts from its run)
for item in ${EXPERTS:-noise:- noise_stage2:- denoiser:gir-denoiser denoiser_low:gir-denoiser denoiser_camera:gir-denoiser-camera denoiser_camera_gan:gir-denoiser-gan jpeg:gir-expert-jpeg jpeg_stage2:gir-expert-jpeg jpeg_stage3:gir-expert-jpeg jpeg_cond:gir-expert-jpeg jpeg_gan:gir-expert-jpeg-gan resize:gir-expert-band band:gir-expert-band@2000 band_stage2:gir-expert-band upscale:gir-upscale upscale_real:gir-upscale-real scratch_mask:gir-scratch-mask@5000 inpaint:gir-inpaint inpaint_detected:gir-inpaint kernel:gir-kernel kernel_chains:gir-kernel}; do
    name="${item%%:*}" expert="${item##*:}" checkpoint=latest
    if [[ "$expert" == *@* ]]; then checkpoint="${expert##*@}" expert="${expert%%@*}"; fi
    run="runs/experts/$name"
    if [ -d "$run/states" ] && [ -n "$(ls -A "$run/states" 2>/dev/null)" ]; then
        gir train --resume "$run"
    else
        gir train "configs/experts/$name.yaml" --out-dir "$run"
    fi
    if [ "$expert" != "-" ]; then
        gir export "$run/models/net_$checkpoint.safetensors" "src/gir/weights/$expert.safetensors" --fp16
    fi
done
