#!/usr/bin/env bash
# samebytes.sh REV: renders every seeded reference run of testdata (SD 1.x
# text to image on both layouts, img2img and inpainting, SD 2.x on both
# layouts, the Turbo-style runs, the golden images of the built-in model)
# with the imggen of git revision REV and with the working tree's, and
# compares the PNG files byte for byte, and where the bytes differ, the
# pixels (with the new binary's compare; a REV without it fails there). A
# change that must not alter a pixel passes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
rev=${1:?usage: scripts/samebytes.sh REV}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/old" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -q --detach "$work/old" "$rev"
(cd "$work/old" && go build -o "$work/imggen-old" ./cmd/imggen)
go build -o "$work/imggen-new" ./cmd/imggen

td=$PWD/testdata
sd1="sunset, oil painting"
land="a watercolor landscape with a red sun over hills"
cabin="a cozy wooden cabin in a snowy pine forest at night, warm light in the windows"
raccoon="a cinematic shot of a raccoon wearing a tiny astronaut helmet"
runs=()
for m in "$td/model-diffusers" "$td/model-fp16/sd1-tiny.fp16.safetensors"; do
	runs+=(
		"$sd1|-m|$m|-W|128|-H|128|--sampler|ddim|--steps|10|--seed|42"
		"$sd1|-m|$m|-W|128|-H|128|--sampler|ddim|--steps|10|--seed|42|--cfg-scale|1"
		"$sd1|-m|$m|-W|128|-H|128|--sampler|pndm|--steps|20|--seed|7"
		"$sd1|-m|$m|-W|128|-H|128|--sampler|euler_a|--steps|20|--seed|123"
		"$sd1|-m|$m|-W|128|-H|96|--sampler|dpmpp_2m|--schedule|karras|--steps|15|--seed|2024|--cfg-scale|5|-n|blurry, low quality"
		"$sd1|-m|$m|-W|128|-H|128|--sampler|ddpm|--steps|25|--seed|5"
		"$sd1|-m|$m|-W|128|-H|128|--sampler|euler|--steps|20|--seed|99|--clip-skip|2"
		"$sd1|-m|$m|-W|128|-H|128|--sampler|lms|--steps|12|--seed|3"
		"$sd1|-m|$m|-W|64|-H|64|--steps|4|--seed|8|--long-prompts|chunk"
	)
done
img="-m|$td/model-diffusers|-i|$td/e2e/img2img_init.png|--steps|20|--cfg-scale|7.5"
runs+=(
	"$land|$img|--sampler|ddim|--strength|0.6|--seed|606"
	"$land|$img|--sampler|ddim|--strength|0.3|--seed|303"
	"$sd1|$img|--sampler|euler_a|--strength|0.75|--seed|750|-n|blurry"
	"a bright yellow flower|$img|--sampler|ddim|--strength|1|--seed|1010|--mask|$td/e2e/inpaint_mask.png"
	"a bright yellow flower|$img|--sampler|euler|--strength|0.5|--seed|11|--mask|$td/e2e/inpaint_mask.png"
	"$sd1|$img|--resize|-W|64|-H|96|--sampler|ddim|--strength|0.7|--seed|12"
)
for m in "$td/sd2/model" "$td/sd2/sd2-tiny.fp16.safetensors"; do
	runs+=(
		"$cabin|-m|$m|-W|128|-H|128|--sampler|ddim|--steps|12|--seed|31|--cfg-scale|6|-n|lowres, jpeg artifacts, watermark"
		"Macro photo of a DEWDROP on a leaf, 100mm, f/2.8|-m|$m|-W|128|-H|128|--sampler|euler_a|--steps|15|--seed|2718|--cfg-scale|6"
		"$cabin|-m|$m|-W|128|-H|112|--sampler|dpmpp_2m|--schedule|karras|--steps|12|--seed|90210|--cfg-scale|5|-n|blurry, overexposed"
		"$raccoon|-m|$m|-W|128|-H|128|--sampler|euler_a|--timestep-spacing|trailing|--steps|1|--seed|1234|--cfg-scale|0"
		"$raccoon|-m|$m|-W|128|-H|128|--sampler|euler_a|--timestep-spacing|trailing|--steps|4|--seed|4321|--cfg-scale|0"
		"$raccoon|-m|$m|-W|128|-H|128|--sampler|euler|--timestep-spacing|trailing|--prediction|eps|--steps|1|--seed|1234|--cfg-scale|0"
		"$raccoon|-m|$m|-W|128|-H|128|--sampler|euler_a|--timestep-spacing|trailing|--steps|2|--seed|55|--cfg-scale|0|--strength|0.5|-i|$td/sd2/img2img_init.png"
	)
done
runs+=(
	"sunset over the sea, oil painting|--seed|1"
	"a red boat on the sea at sunset|--seed|2|--sampler|euler_a"
	"night sky with a full moon over mountains|--seed|3|--sampler|ddim|--steps|25"
	"a small blue circle in the top left of a desert at dawn, pixel art|--seed|4|--cfg-scale|3"
	"a green tree on a hill, watercolor|--seed|5|--sampler|pndm"
	"a yellow star at night over a lake|--seed|6|--sampler|euler|-n|blue"
	"a purple house in a grassy field in the daytime|--seed|7|-W|192|-H|128"
	"an orange triangle over the sea at dawn, sketch|--seed|8|--sampler|lms"
)

same=0
pixels=0
n=0
for r in "${runs[@]}"; do
	IFS='|' read -r -a args <<<"$r"
	n=$((n + 1))
	for v in old new; do
		IMGGEN_MODEL= "$work/imggen-$v" "${args[@]}" -o "$work/$v-$n.png" --quiet >/dev/null
	done
	if cmp -s "$work/old-$n.png" "$work/new-$n.png"; then
		same=$((same + 1))
	elif "$work/imggen-new" compare "$work/old-$n.png" "$work/new-$n.png" >/dev/null 2>&1; then
		# Same pixels; the parameters text differs (e.g. a setting newly recorded).
		pixels=$((pixels + 1))
		echo "same pixels, other metadata: imggen ${args[*]}"
	else
		echo "differs: imggen ${args[*]}"
	fi
done
echo "$same of $n identical files, $pixels more with identical pixels"
[ $((same + pixels)) -eq "$n" ]
