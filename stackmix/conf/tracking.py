"""Experiment tracking defaults: whether Weights & Biases logs online (``${sm.wandb_offline:}``).

W&B must never prompt for a key in a training job: it logs online only when it has credentials,
otherwise offline (``wandb sync <run dir>/wandb/offline-run-*`` uploads later). wandb's own
settings decide: ``WANDB_MODE`` when set, else an API key from ``WANDB_API_KEY`` or from the
credentials ``wandb login`` stored (read with wandb's own reader).
"""
from __future__ import annotations

import os

OFFLINE_MODES = ("offline", "dryrun", "disabled")


def _stored_key() -> str | None:
    """The API key `wandb login` stored for the configured host, read by wandb itself."""
    try:
        from wandb.sdk.lib.wbauth import read_netrc_auth  # wandb >= 0.22
    except ImportError:
        try:
            from wandb.sdk.lib.apikey import api_key  # older wandb
        except ImportError:
            return None
        try:
            return api_key()
        except Exception:  # noqa: BLE001  (a malformed entry: treat as no key)
            return None
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")
    try:
        return read_netrc_auth(host=host)
    except Exception:  # noqa: BLE001  (a malformed entry: treat as no key)
        return None


def wandb_offline() -> bool:
    """True unless W&B is switched online or has an API key."""
    mode = os.environ.get("WANDB_MODE")
    if mode:
        return mode in OFFLINE_MODES
    if os.environ.get("WANDB_API_KEY"):
        return False
    return not _stored_key()
