"""Package mapping: the top-level folders install as the ``protogw`` namespace.

``core/`` is ``protogw.core``, ``gateway/`` is ``protogw.gateway``, ``openapi/`` is ``protogw.openapi``,
``server/`` is ``protogw.server``, ``clients/`` is ``protogw.clients`` and ``gen/`` (generated code) is
``protogw.gen``. Subpackages are found
automatically, so adding a folder needs no edit here.
"""

from setuptools import find_packages, setup

ROOTS = ("core", "gateway", "openapi", "server", "clients", "gen")

packages: list[str] = []
package_dir: dict[str, str] = {}
for root in ROOTS:
    package_dir[f"protogw.{root}"] = root
    packages.append(f"protogw.{root}")
    packages.extend(f"protogw.{root}.{sub}" for sub in find_packages(root))

setup(packages=packages, package_dir=package_dir)
