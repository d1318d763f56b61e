"""Vela's first depth slice of a double-buffered weight stream, against candidate rules.

For every double-buffered operator (but the first) of the cnn-kws models whose Vela schedules
``schedule_vs_vela.py`` cached in ``.cache/vela_schedule``, the slack *Vela's own numbers* give it
(the previous operator's "Estimated Perf" cycles, or its last slice's 8-channel share of them when
it is double-buffered too), the depth that slack would transfer (``depth * slack / (encoded bytes
+ 64)``) and Vela's first slice. Prints how often candidate rules reproduce the first slice and
the cases none does. The replay (``npu_schedule._slices``) uses the first rule. Run from the
repository root after ``schedule_vs_vela.py``:
``python benches/results/experiments/schema8_blocks/first_slices.py``.
"""

import glob
import json
import math
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def floor16(v):
    return max(16, int(v) // 16 * 16)


def ceil16(v):
    return max(16, -(-int(math.ceil(v)) // 16) * 16)


RULES = {
    "floor16(depth x slack / transfer) (the replay's)": lambda imp, d: floor16(imp),
    "min(that, ceil16(depth / 2))": lambda imp, d: min(floor16(imp), ceil16(d / 2)),
    "ceil16(depth x slack / transfer)": lambda imp, d: ceil16(imp),
}


def cases():
    """(Vela's first slice, depth the slack transfers, depth, model, operator index)."""
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, ".cache", "vela_schedule", "cnn-kws-*.json"))):
        with open(path) as f:
            ops = json.load(f)
        for i in range(1, len(ops)):
            o, q = ops[i], ops[i - 1]
            if o.get("buf_kind") != "Double" or not q.get("cycles"):
                continue
            slack = q["cycles"]
            if q.get("buf_kind") == "Double":
                last = q["slices"][-1] - q["slices"][-2]
                slack *= math.ceil(last / 8) / math.ceil(q["ofm"][3] / 8)
            depth = o["ofm"][3]
            out.append((o["slices"][1], depth * slack / (o["enc"] + 64), depth,
                        os.path.basename(path)[:-12], i))
    return out


def main():
    rows = cases()
    print("{} double-buffered operators (not first in their model)".format(len(rows)))
    for name, rule in RULES.items():
        print("  {:50s} {:4d} right".format(name, sum(r[0] == rule(r[1], r[2]) for r in rows)))
    rest = [r for r in rows if all(r[0] != rule(r[1], r[2]) for rule in RULES.values())]
    print("none right ({}), first cases: (Vela's first slice, slack depth, depth, model, op)"
          .format(len(rest)))
    for r in rest[:15]:
        print("  ", (r[0], round(r[1], 1)) + r[2:])


if __name__ == "__main__":
    main()
