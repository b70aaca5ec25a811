"""Beside ``source/batchnorm/batchnorm.ipynb`` (see the package docstring)."""
from __future__ import annotations

from reference import batchnorm as ref

#: the demo network of the experiments lives in given notebook cells
GIVEN = [ref.init_deep_net, ref._num_layers, ref.deep_forward, ref.deep_backward, ref.train_deep_net,
         ref.predict_deep]
