"""What ``deepgrade build`` needs beside each code assignment's source notebook, one module per assignment.

The notebook itself (``source/<a>/<a>.ipynb``) holds the prose, visible tests, points and given cells;
a module here only declares what connects it to the reference package:

``GIVEN``     reference functions whose source the notebook's given cells hold (a training loop that
              calls the learner's functions); the helpers they call go into ``<a>_utils.py``.
``EXAMPLES``  graded name -> :class:`autograder.course.examples.Example`: the visible example's inputs
              and call, written into the test cell's example region and used by the hidden ``<f>.fixed``.
``SOLUTIONS`` (optional) graded name -> the function whose body fills the solution region, where it is
              not the graded reference function (the TensorFlow code of ``reference.tf_solutions``).
"""
