"""What ``deepgrade build`` needs beside each code assignment's source notebook, one module per assignment.

The notebook itself (``source/<a>/<a>.ipynb``) holds the prose, visible tests, points and given cells;
the visible examples are declared with the hidden checks (``S.examples`` in ``autograder/checks/test_<a>.py``).
A module here (named by ``notebook = ...`` in the assignment's declaration, optional) only declares

``GIVEN``     reference functions whose source the notebook's given cells hold (a training loop that
              calls the learner's functions); the helpers they call go into ``<a>_utils.py``.

Solution regions are filled from the declaration's ``solutions`` module, else its ``reference``.
"""
