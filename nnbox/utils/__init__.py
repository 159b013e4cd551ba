"""Utilities: ``nnbox.utils.data`` (Dataset/DataLoader), hooks, and the workflow tools."""
