"""Shapes shared by the sample generators: traffic over a day, public client addresses,
and exact integer splits."""

from itertools import accumulate

# Consumer and hosting /8s without special-purpose ranges inside, so no per-address checks.
ISP_V4 = (24, 31, 37, 45, 46, 47, 49, 50, 58, 59, 60, 61, 62, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79,
          80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 101, 103, 104, 106, 107, 108,
          109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 151, 174, 175, 176,
          177, 178, 179, 180, 181, 182, 183, 186, 187, 188, 189, 190, 191, 201)
ISP_V6 = ("2a02:c7c::/32", "2600:1700::/28", "2601::/20", "2a01:e0a::/32", "2003::/19",
          "2406:3003::/32", "2607:fb90::/32", "2804:14c::/31")

# Relative traffic per UTC hour of the day (peaks in the afternoon).
DIURNAL = (52, 44, 38, 33, 31, 33, 40, 52, 66, 78, 86, 91, 95, 98, 100, 100, 98, 95, 92, 90, 86, 78, 68, 60)


def split_exactly(total: int, weights: list[float]) -> list[int]:
    """Integer shares of `total` proportional to `weights` that add up to `total` exactly."""
    base = 1 if total >= len(weights) else 0
    rest, scale = total - base * len(weights), 1.0 / sum(weights)
    bounds = [round(rest * c * scale) for c in accumulate(weights)]
    bounds[-1] = rest
    return [base + b - a for a, b in zip([0] + bounds[:-1], bounds)]
