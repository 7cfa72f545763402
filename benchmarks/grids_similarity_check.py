"""Summarise GRIDS similarity matrices against paper 002's findings: usage `python benchmarks/grids_similarity_check.py docs/grids/similarity_*.json`."""
import json, sys, numpy as np
for path in sys.argv[1:]:
    d = json.load(open(path)); ops = d["ops"]; M = np.array([[np.nan if v is None else v for v in row] for row in d["matrix"]])
    S = (M + M.T) / 2
    g = [ops.index(o) for o in ("ringing", "rl_artifact", "defocus_blur", "motion_blur")]
    rest = [i for i in range(len(ops)) if i not in g]
    within = np.nanmean([S[i, j] for i in g for j in g if i != j]); across = np.nanmean([S[i, j] for i in g for j in rest])
    allm = np.nanmean(S)
    spread = {o: round(float(np.nanmean(S[ops.index(o)])), 2) for o in ops}
    print(path, f"paper group within {within:.2f} vs to others {across:.2f}; overall mean {allm:.2f}")
    print("  mean distance per op:", dict(sorted(spread.items(), key=lambda kv: kv[1])))
