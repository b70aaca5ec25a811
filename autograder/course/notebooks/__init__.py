"""What ``deepgrade build`` needs beside each code assignment's source notebook, one module per assignment.

The notebook itself (``source/<a>/<a>.ipynb``) holds the prose, visible tests, points and given cells;
the visible examples are declared with the hidden checks (``S.examples`` in ``autograder/checks/test_<a>.py``).
A module here only declares what connects the notebook to the reference package:

``GIVEN``     reference functions whose source the notebook's given cells hold (a training loop that
              calls the learner's functions); the helpers they call go into ``<a>_utils.py``.
``SOLUTIONS`` (optional) graded name -> the function whose body fills the solution region, where it is
              not the graded reference function (the TensorFlow code of ``reference.tf_solutions``).
"""
