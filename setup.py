"""Build hook: ship the repository's top-level config/ and static/ inside the package as gateway/_data/.

Everything else is declared in pyproject.toml. setuptools can only package data that lies in a package's
own folder, and the product keeps config/ and static/ at the top of the repository, so building the package
copies them in; gateway/resources.py finds them there (a wheel) or at the top of the checkout (editable).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("config", "static")


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        for name in SHIPPED:
            target = Path(self.build_lib, "gateway", "_data", name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(name, target, ignore=shutil.ignore_patterns(".*", "__pycache__"))


setup(cmdclass={"build_py": BuildWithData})
