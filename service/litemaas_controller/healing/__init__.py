"""Healing: each managed instance's observed health and the repair policy acting on it.

Between intake (the cluster watch feeds it) and dispatch (a repair is an order it submits).
"""
