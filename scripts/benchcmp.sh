#!/usr/bin/env bash
# benchcmp.sh OLD NEW MODEL [ROUNDS]: runs `imggen bench` of two imggen
# binaries interleaved (old, new, old, new, ...) at 256 and 512 px on MODEL
# (e.g. a random SD 1.5 checkpoint from cmd/mkcheckpoint) and prints, per
# run, the last (steady) U-Net call, the VAE decode and the peak RSS.
set -euo pipefail
old=${1:?usage: scripts/benchcmp.sh OLD NEW MODEL [ROUNDS]} new=${2:?} model=${3:?} rounds=${4:-3}
for s in 256 512; do
	for _ in $(seq "$rounds"); do
		for v in old new; do
			bin=$old
			[ "$v" = new ] && bin=$new
			"$bin" bench -m "$model" -W "$s" -H "$s" --steps 2 --threads 2 --json -q 2>/dev/null | python3 -c "
import json, sys
r = json.load(sys.stdin); st = {s['name']: s for s in r['stages']}; c = r['unet_calls'][-1]
print('$s', '$v', 'steady_unet_s %.3f' % c['seconds'], 'unet_gflops %.1f' % c['gflops'],
      'vae_s %.2f' % st['vae_decode']['seconds'], 'vae_gflops %.1f' % st['vae_decode']['gflops'],
      'peak %.2f' % (r['peak_rss_bytes'] / 1e9))"
		done
	done
done
