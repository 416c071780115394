"""What the machine offers, for the config's defaults (``${sm.cuda:}``, ``${sm.precision:}``).

torch is imported only when a config value that needs it is resolved.
"""
from __future__ import annotations


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return bool(torch.cuda.is_available())


def auto_precision() -> str:
    """bf16 mixed precision on a GPU that supports it, fp16 mixed on older GPUs, fp32 elsewhere."""
    if cuda_available():
        import torch

        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def set_threads(threads) -> int | None:
    """Apply the ``threads`` option of train.py / prepare.py: torch's CPU threads for the network
    (``None``/0: leave torch's default, one per core). Returns the number set, or None."""
    if not threads:
        return None
    n = int(threads)
    if n < 1:
        raise ValueError(f"threads must be a positive number of CPU threads, got {threads!r}")
    import torch

    torch.set_num_threads(n)
    return n
