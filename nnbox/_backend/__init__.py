"""Layer 1: dtypes, devices, the array module (numpy or cupy) and random state."""
