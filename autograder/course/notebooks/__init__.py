"""One module per code assignment; each defines ``build() -> NotebookBuilder``.

Optional module attributes read by ``autograder.course.build``:
``HELPERS`` — callables or ``(name, callable)`` pairs copied into ``<assignment>_utils.py``
(default: ``reference.registry.HELPERS[assignment]``); ``build_data(path)`` — writes the
assignment's ``.h5`` data.
"""
