#!/bin/sh
# Rebuild the pictogram training bank and retrain the shipped encoder (screenstate/pictograms).
# Nothing downloaded here is committed: the bank lives under $WORK (default /tmp/pictograms).
#   sh tools/pictograms_data.sh            # bank + training (training: 15 min on 2 quiet cores)
set -eu
WORK=${WORK:-/tmp/pictograms}
PY=${PY:-python}
mkdir -p "$WORK"
# icon sets (npm); the manifest records the exact version used
(cd "$WORK" && [ -f package.json ] || (cd "$WORK" && npm init -y >/dev/null)) && (cd "$WORK" && npm install @iconify/json@2.2.553)
# freedesktop icon themes (Debian 12 packages)
apt-get install -y --no-install-recommends adwaita-icon-theme breeze-icon-theme oxygen-icon-theme \
  tango-icon-theme papirus-icon-theme elementary-icon-theme gnome-icon-theme
pip install "cairosvg>=2.7" "onnx>=1.15"   # = pip install 'screenstate[pictograms-train]'
$PY -m screenstate.pictograms.dataset "$WORK/node_modules/@iconify/json" "$WORK/bank"
$PY -m screenstate.pictograms.train "$WORK/bank" screenstate/pictograms/weights --steps 2500 --batch 128 --seed 0
