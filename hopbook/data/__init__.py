"""The data: images and their task splits, the shipped text, random keys, windows of text and recall
probes, and what is on this machine (datasets, models, pipelines)."""
