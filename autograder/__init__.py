"""deepgrade's grading engine, runner and CLI (DESIGN.md)."""
from autograder import deferred_imports

deferred_imports.install()   # 2.4 s of every command's start-up otherwise (see the module)
