"""The desk: `/`, one page per member of what waits for them across the three flows (webapp/desk/services.py)."""
