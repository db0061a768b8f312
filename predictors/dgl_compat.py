"""Import DGL 2.1.0 on a newer torch than it was built for.

DGL 2.1.0 is the newest DGL on PyPI for Linux. Its optional GraphBolt
sub-package ships native libraries only for torch <= 2.2.1, and
``import dgl`` imports GraphBolt eagerly, so on our torch it raises
FileNotFoundError (upstream: dmlc/dgl#7247, dmlc/dgl#7822). We never use
GraphBolt; heterographs, message passing and autograd work without it.

So, when the GraphBolt library matching the running torch is absent, an
empty ``dgl.graphbolt`` module is registered before DGL is imported. Use
``from predictors.dgl_compat import dgl`` everywhere instead of ``import dgl``.
"""

import importlib.util
import logging
import os
import sys
import types

import torch

log = logging.getLogger(__name__)


def _graphbolt_library_present():
    spec = importlib.util.find_spec("dgl")
    if spec is None or not spec.submodule_search_locations:
        return False
    package_dir = list(spec.submodule_search_locations)[0]
    torch_version = torch.__version__.split("+")[0]
    library = f"libgraphbolt_pytorch_{torch_version}.so"
    return os.path.exists(os.path.join(package_dir, "graphbolt", library))


def _register_empty_graphbolt():
    if "dgl.graphbolt" in sys.modules:
        return
    stub = types.ModuleType("dgl.graphbolt")
    stub.__doc__ = "Empty stand-in registered by predictors.dgl_compat; GraphBolt is not used."
    sys.modules["dgl.graphbolt"] = stub
    log.debug("registered an empty dgl.graphbolt (no GraphBolt library for torch %s)", torch.__version__)


# Without this DGL writes ~/.dgl/config.json on first import and warns.
os.environ.setdefault("DGLBACKEND", "pytorch")
if "dgl" not in sys.modules and not _graphbolt_library_present():
    _register_empty_graphbolt()

import dgl  # noqa: E402  (must follow the stub registration)

__all__ = ["dgl"]
