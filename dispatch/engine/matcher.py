"""Bundles to couriers as a minimum-cost assignment over the sparse candidate pairs.

Each bundle also gets its own "not now" column at cost 0, so the matching always exists and a
bundle is left out when every courier would cost more than waiting. Solved exactly by scipy's
`min_weight_full_bipartite_matching` (LAPJVsp) on the sparse matrix, so the work grows with the
number of candidate pairs, not with bundles × couriers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_array
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

# Below this many cells a dense matrix is faster than building the sparse one.
DENSE_CELLS_MAX = 40_000


def match(n_rows: int, n_cols: int, rows: IntArray, cols: IntArray, costs: FloatArray) -> list[tuple[int, int, int]]:
    """Minimum-cost matching of rows (bundles) to columns (couriers) over the given pairs (at
    most one pair per (row, column)); a row may stay unmatched at cost 0. Returns
    (row, column, pair index) for each matched row."""
    if n_rows == 0 or len(rows) == 0:
        return []
    # Only pairs cheaper than waiting can win; the rest never matter.
    useful = costs < 0
    pair_ids = np.flatnonzero(useful)
    rows, cols, costs = rows[useful], cols[useful], costs[useful]
    if len(rows) == 0:
        return []
    # Compact the columns to the couriers that appear at all.
    used_cols, col_pos = np.unique(cols, return_inverse=True)
    width = len(used_cols) + n_rows
    if n_rows * width <= DENSE_CELLS_MAX:
        matrix = np.full((n_rows, width), np.inf)
        matrix[:, len(used_cols) :][np.arange(n_rows), np.arange(n_rows)] = 0.0
        matrix[rows, col_pos] = costs
        r_idx, c_idx = linear_sum_assignment(matrix)
        chosen = dict(zip(r_idx.tolist(), c_idx.tolist(), strict=True))
    else:
        # Strictly positive weights (an explicit zero would read as "no edge"): shifting every
        # edge by the same amount leaves the best full matching of the rows unchanged.
        shift = 1.0 - float(costs.min())
        data = np.concatenate([costs + shift, np.full(n_rows, shift)])
        r_all = np.concatenate([rows, np.arange(n_rows)])
        c_all = np.concatenate([col_pos, len(used_cols) + np.arange(n_rows)])
        graph = csr_array((data, (r_all, c_all)), shape=(n_rows, width))
        r_match, c_match = min_weight_full_bipartite_matching(graph)
        chosen = dict(zip(r_match.tolist(), c_match.tolist(), strict=True))
    lookup = {(int(r), int(c)): int(p) for r, c, p in zip(rows, col_pos, pair_ids, strict=True)}
    out: list[tuple[int, int, int]] = []
    for r, c in chosen.items():
        if c < len(used_cols):
            out.append((r, int(used_cols[c]), lookup[(r, c)]))
    return out
