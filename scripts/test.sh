#!/usr/bin/env bash
# The one test command (npm test, called by .ci/run): system packages, native build, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
if [ -f native/binding.gyp ]; then npm run --silent build:native; fi
# Every *.test.ts under test/, run by node's test runner through tsx (closing summary: "# pass N").
mapfile -t files < <(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=1 "${files[@]}"
