#!/usr/bin/env bash
# The soak (tests/soak/soak.sh) in its short form: 45 s of traffic, SA churn and readers on two
# daemons, with exact counters and a flat RSS at the end. SOAK_SECONDS overrides the length.
SOAK_SECONDS=${SOAK_SECONDS:-45} exec bash "$(dirname "$0")/../soak/soak.sh"
