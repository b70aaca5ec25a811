"""deepgrade's grading engine, runner and CLI (DESIGN.md)."""
from autograder import lazy_iri

lazy_iri.install()   # 2.3 s of every command's start-up otherwise (see the module)
