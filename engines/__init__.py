"""CallShield engines: the backend interface and its runtimes, export, engine cache, benchmark.

Importing this package never imports torch or TensorRT; a backend's module is imported only when
:func:`load_backend` is asked for it.
"""

from engines.artifact import ModelFileError, ModelMeta, default_model_path, read_onnx_meta
from engines.base import BACKENDS, Backend, load_backend

__all__ = [
    "BACKENDS",
    "Backend",
    "ModelFileError",
    "ModelMeta",
    "default_model_path",
    "load_backend",
    "read_onnx_meta",
]
