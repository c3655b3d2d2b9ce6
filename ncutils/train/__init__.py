"""Training recipes of the book.

- :mod:`ncutils.train.paper_a`: the official MSE/SGD recipe of paper A with NTK/NC probes,
  resumable and cached.
- :mod:`ncutils.train.fc2`: the official 2-layer FCN recipe of paper B.
"""
