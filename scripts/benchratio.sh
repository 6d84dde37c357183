#!/usr/bin/env bash
# Reads `go test -bench` output on stdin, prints it, then one line per
# benchmark pair: razar's ns/op (and B/op) as a ratio of the baseline
# measured in the same run. Machines here are noisy: compare ratios, not ns.
set -euo pipefail
tee /dev/stderr | awk '
/^Benchmark.*\/(baseline|razar)/ {
  split($1, p, "/"); name = p[1]; sub(/-[0-9]+$/, "", p[2]); kind = p[2]
  for (i = 2; i <= NF; i++) { if ($(i+1) == "ns/op") ns[name, kind] = $i; if ($(i+1) == "B/op") by[name, kind] = $i }
  names[name] = 1
}
END {
  print "\nratios against the baseline of the same run (razar / baseline):"
  for (n in names) if (ns[n, "baseline"] > 0 && ns[n, "razar"] > 0) {
    line = sprintf("  %-28s time %.2fx", n, ns[n, "razar"] / ns[n, "baseline"])
    if (by[n, "baseline"] > 0) line = line sprintf("  memory %.2fx", by[n, "razar"] / by[n, "baseline"])
    print line
  }
}'
