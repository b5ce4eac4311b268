"""Operator side: device readers to Joy arrays, per-robot Joy -> command maps, simulated operators."""
