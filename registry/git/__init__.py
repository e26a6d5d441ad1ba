"""The git-exact data model: object ids and encodings, trees, path and ref-name rules, LFS rules.

Pure over bytes and names, except trees.py, which reads and builds tree rows."""
