#!/bin/sh
# Stand-in: the real coverage tools can't be fetched offline.
echo "remote_coverage_tools stand-in: coverage is not supported offline" >&2
exit 1
