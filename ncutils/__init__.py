"""ncutils: the library behind the NC-kernel book, in layers whose imports run one way only.

    core      paths, input checks, the task contract (Task, Diverged), content hashes
      ↓
    nc        class statistics once; NC1–NC4 from them; kernel NC1, alignment, block values
    kernels   block kernels (BlockValues), closed-form 2-layer NNGP/NTK, the empirical NTK
    data      Gaussian mixtures, offline and torchvision image sets
    models    the networks of paper A's experiments
      ↓
    paper_a   gradient flow under block kernels, the invariant E, the training recipe (a task)
    paper_b   expected NC1, the adaptive kernel (a task), the 2-layer recipe (a task)
      ↓
    runs      grids of tasks on Dask, the result store keyed by configuration and code
      ↓
    book      profiles, experiments (every grid, planned from settings), chapter API, pipeline

A module imports from its own layer and the layers below (``tests/test_layers.py`` checks it;
paper A and paper B do not import each other). Subpackages are imported on demand
(``from ncutils import nc``); importing any of them loads neither torch, JAX nor TensorFlow: the
torch parts (``ncutils.kernels.empirical_ntk``, ``ncutils.models``, the training recipes) load
torch when they are used.
"""

__version__ = "0.1.0"
