"""Where a model runs and in which precision: CUDA when present, bf16 autocast there, fp32 on CPU.

Book: chapter 6, "Devices and mixed precision".
"""

import contextlib

import torch

PRECISIONS = ("auto", "fp32", "bf16")


def resolve_device(device="auto"):
    """ "auto" -> CUDA when a GPU is visible, else CPU; anything else is passed to torch.device.

    device: "auto", "cpu", "cuda", "cuda:1" or a torch.device -> torch.device
    Asking for CUDA on a machine without it is an error, not a silent fall-back to CPU.
    Book: chapter 6, "Devices and mixed precision".
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device {device} was requested but torch.cuda.is_available() is False; "
            'use device="auto" or "cpu"'
        )
    return device


def model_device(model):
    """The device of a module's first parameter, where its inputs must be created."""
    return next(model.parameters()).device


def resolve_precision(precision, device):
    """ "auto" -> bf16 on CUDA, fp32 on CPU (CPU bf16 autocast is slower for small RNNs).

    precision: one of PRECISIONS; device: torch.device -> "fp32" or "bf16".
    bf16 keeps fp32's exponent range, so unlike fp16 it needs no loss scaling.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    return precision


def autocast(device, precision):
    """A context manager running matmuls in low precision; a no-op for "fp32".

    device: torch.device; precision: "fp32" or "bf16" (see resolve_precision).
    Weights and optimiser state stay fp32; the loss is computed in fp32 (masked_cross_entropy).
    Book: chapter 6, "Devices and mixed precision".
    """
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
