"""Packaging beyond what pyproject.toml can say: the top-level templates/ and static/ folders
ship inside the wheel as tipline/templates and tipline/static, so an installed Tipline renders
pages without the checkout. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

SHIPPED = {"tipline.templates": "templates", "tipline.static": "static"}

setup(
    packages=[*find_packages(include=["tipline", "tipline.*"]), *SHIPPED],
    package_dir=SHIPPED,  # their files are listed in pyproject.toml's package-data
)
