#!/bin/sh
# Runs the unit test binary named like this link (tests/unit/buf.t -> $GW_BUILD/tests/unit/buf).
name=$(basename "$0" .t)
exec "${GW_BUILD:-build}/tests/unit/$name"
