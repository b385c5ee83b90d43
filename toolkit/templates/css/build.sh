#!/usr/bin/env bash
# Rebuild govuk-frontend.css, the GOV.UK Frontend styles every published page inlines, from the package's Sass.
#
# A one-off step for whoever upgrades GOV.UK Frontend or changes the parts in govuk-frontend.scss (`make css`);
# it needs node and npm, which `make reports` never does: the compiled file is committed. The Sass is compiled
# with Arial/Helvetica for GDS Transport (reserved for GOV.UK), so no @font-face is made, and the footer's crest
# (the crown, also GOV.UK's) is left out.
set -euo pipefail
GOVUK_FRONTEND_VERSION=6.6.0
SASS_VERSION=1.108.2
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
npm install --prefix "$work" --no-audit --no-fund --silent "govuk-frontend@$GOVUK_FRONTEND_VERSION" "sass@$SASS_VERSION"
"$work/node_modules/.bin/sass" --load-path="$work/node_modules" --style=compressed --no-source-map \
    "$here/govuk-frontend.scss" "$work/compiled.css"
python3 - "$work/compiled.css" "$here/govuk-frontend.css" "$GOVUK_FRONTEND_VERSION" <<'PY'
import re
import sys

source, target, version = sys.argv[1:]
css = open(source, encoding="utf-8").read()
# The crest is a background image (and mask) of the footer's copyright logo: drop every rule that draws it.
css = re.sub(r"[^{}]*\{[^{}]*govuk-crest[^{}]*\}", "", css)
for unwanted in ("govuk-crest", "@font-face", "GDS Transport"):
    assert unwanted not in css, unwanted
header = (
    f"/*! GOV.UK Frontend {version} (MIT licence: govuk-frontend-LICENCE.txt), the parts in govuk-frontend.scss, "
    "compiled by build.sh with Arial for GDS Transport and without the crest */\n"
)
open(target, "w", encoding="utf-8").write(header + css.lstrip("\ufeff") + "\n")
PY
echo "wrote $here/govuk-frontend.css ($(wc -c < "$here/govuk-frontend.css") bytes)"
