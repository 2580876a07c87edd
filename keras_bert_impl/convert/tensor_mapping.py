"""Explicit tensor-by-tensor mappings between checkpoints and Keras variables.

Every converter in this package describes a checkpoint format as a list of
`TensorMapping`s: which source tensors make each Keras variable and how. The
same list loads (source -> Keras) and saves (Keras -> source), and loading
checks that every variable is found with the right shape.
"""

import dataclasses
from typing import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class TensorMapping:
    """How one Keras variable is made from (and split into) source tensors.

    Attributes:
        variable: the Keras variable.
        sources: names of the source tensors it is made from.
        to_keras: takes the source arrays (in `sources` order), returns the
            variable's value.
        from_keras: takes the variable's value, returns the source arrays.
    """

    variable: object
    sources: tuple
    to_keras: Callable = lambda x: x
    from_keras: Callable = lambda x: (x,)


def assign_from_tensors(mappings, tensors, source):
    """Assigns every mapped variable from `tensors`.

    Args:
        mappings: `TensorMapping`s covering the model's variables.
        tensors: dict of source name -> numpy array.
        source: the checkpoint's path, for error messages.

    Returns:
        The names in `tensors` that no mapping used.

    Raises:
        ValueError: listing every missing tensor, or naming a tensor whose
            shape does not fit its variable.
    """
    missing = sorted(
        {name for m in mappings for name in m.sources if name not in tensors}
    )
    if missing:
        raise ValueError(
            f"{source}: missing tensors {missing}; the checkpoint does not "
            "match this BERT configuration."
        )
    for mapping in mappings:
        arrays = [np.asarray(tensors[name], dtype="float32") for name in mapping.sources]
        try:
            value = mapping.to_keras(*arrays)
        except ValueError as e:
            raise ValueError(
                f"{source}: tensors {list(mapping.sources)} with shapes "
                f"{[a.shape for a in arrays]} do not fit variable "
                f"{mapping.variable.path} of shape {tuple(mapping.variable.shape)} "
                f"({e})."
            ) from None
        if tuple(value.shape) != tuple(mapping.variable.shape):
            raise ValueError(
                f"{source}: tensor(s) {list(mapping.sources)} give shape "
                f"{tuple(value.shape)}, but variable {mapping.variable.path} "
                f"has shape {tuple(mapping.variable.shape)}."
            )
        mapping.variable.assign(value)
    used = {name for m in mappings for name in m.sources}
    return sorted(set(tensors) - used)


def tensors_from_keras(mappings):
    """Returns dict of source name -> float32 numpy array for every mapping."""
    tensors = {}
    for mapping in mappings:
        value = np.asarray(mapping.variable.numpy(), dtype="float32")
        for name, array in zip(mapping.sources, mapping.from_keras(value)):
            tensors[name] = np.ascontiguousarray(array)
    return tensors
