"""Geometry the map's tests check drawings with."""

from __future__ import annotations

Point = tuple[float, float]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def segment_hits_box(a: Point, b: Point, box: Box) -> bool:
    """Whether the segment a–b meets the closed box: Liang–Barsky clipping."""
    (x1, y1), (x2, y2) = a, b
    dx, dy = x2 - x1, y2 - y1
    low, high = 0.0, 1.0
    for p, q in ((-dx, x1 - box[0]), (dx, box[2] - x1), (-dy, y1 - box[1]), (dy, box[3] - y1)):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        low, high = (max(low, t), high) if p < 0 else (low, min(high, t))
        if low > high:
            return False
    return True
