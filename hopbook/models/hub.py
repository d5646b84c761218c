"""Pretrained weights on this machine: files of Hugging Face hub repositories in the local cache."""

from huggingface_hub import try_to_load_from_cache


def in_cache(repo_id: str, filename: str) -> bool:
    """Whether a hub repository's file is in the local Hugging Face cache (no network)."""
    try:
        return isinstance(try_to_load_from_cache(repo_id, filename), str)
    except ValueError:  # not a valid hub id (a path, say)
        return False
