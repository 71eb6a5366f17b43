#!/usr/bin/env bash
# The crash campaign at CI size: 200 trials of SIGKILLed act, sync, serve and
# relay (tests/crash/campaign.sh). CRASH_TRIALS and CRASH_SEED override; the
# seed defaults to the day, so CI walks new kill points while a failure names
# the seed that reproduces it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
trials=${CRASH_TRIALS:-200}
seed=${CRASH_SEED:-$(date +%Y%m%d)}
echo "crash campaign: $trials trials, seed $seed"
bash tests/crash/campaign.sh "$trials" "$seed" build/hoso
