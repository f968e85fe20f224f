"""runtable: parameter sweeps and simulations whose every run is a row of a plain SQL table.

>>> import runtable as rt
>>> exp = rt.connect("sqlite://").create_experiment("demo")
"""

from __future__ import annotations

__version__ = "0.1.0"

from .decoding import decode
from .errors import (
    CodecError,
    ConflictError,
    CorruptModelError,
    CorruptValueError,
    ExperimentExistsError,
    ExperimentNotFoundError,
    InputChangedError,
    InvalidNameError,
    InvalidRunIdError,
    ModelNotFoundError,
    RuntableError,
    SchemaError,
    StepError,
    StorageError,
    UnsupportedValueError,
)
from .experiment import Experiment
from .run import Run, Runs
from .session import Session, connect, create_experiment
from .step import Step, step

__all__ = [
    "__version__",
    # sessions
    "connect",
    "create_experiment",
    "Session",
    # experiments, runs and steps
    "Experiment",
    "Run",
    "Runs",
    "step",
    "Step",
    # reading stored values without runtable's objects
    "decode",
    # errors
    "RuntableError",
    "CodecError",
    "ConflictError",
    "InputChangedError",
    "CorruptValueError",
    "ExperimentExistsError",
    "ExperimentNotFoundError",
    "InvalidNameError",
    "SchemaError",
    "StepError",
    "StorageError",
    "UnsupportedValueError",
    # errors of the model store (session.models)
    "CorruptModelError",
    "InvalidRunIdError",
    "ModelNotFoundError",
]
