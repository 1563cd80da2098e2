/** Alert rules the bench gateway runs. */

/** A few rules over every bench sensor, none violated by the load generator's values (evaluation cost, no
 * events; checkpoint-micro's `b` values of ~1000 do fire `b-range`, so its alert state holds firing alerts),
 * and `probe-hot` for the latency probe (latency.ts). */
export const BENCH_RULES = `rules:
  - name: a-hot
    match: { device: "dev-*", sensor: a }
    above: 1000
    hysteresis: 1
  - name: b-range
    match: { device: "dev-*", sensor: b }
    above: 500
    below: -500
  - name: c-high-for
    match: { device: "dev-*", sensor: c }
    above: 5000
    for: 30s
  - name: probe-hot
    match: { device: "probe-*", sensor: a }
    above: 100
`;

/** The scale scenario keeps the same rules: alert state per sensor is part of the memory measured. */
export const BENCH_RULES_SCALE = BENCH_RULES;
