"""The model side: what runs Galactica, behind one seam.

``types`` (plain data, no torch) and ``backend`` (the interface every decoder
implements) are what the rest of the package speaks; ``service`` holds the
tasks and the engine the server and command line use. Importing this package
imports no torch: the torch modules (``decoding``, ``kv_cache``,
``prefix_cache``) are imported by a load.
"""
