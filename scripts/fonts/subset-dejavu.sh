#!/usr/bin/env bash
# Regenerates crates/atgen-bench/assets/DejaVuSans-subset.ttf: DejaVu Sans 2.37 (Debian
# fonts-dejavu-core) cut down to printable ASCII, Latin-1 and the few symbols the plots use,
# so PNG plots need no system fonts and the repository carries ~22 KiB instead of 740 KiB.
# Needs: apt-get install fonts-dejavu-core; pip install fonttools==4.68.0
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
src="${1:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}"
out="$here/crates/atgen-bench/assets/DejaVuSans-subset.ttf"
pyftsubset "$src" --output-file="$out" \
  --unicodes="U+0020-007E,U+00A0-00FF,U+2013,U+2014,U+2212,U+2026,U+00B1" \
  --layout-features='kern' --no-hinting --desubroutinize
sha256sum "$out"
