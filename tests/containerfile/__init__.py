"""The image without an engine: the Containerfile's instructions carried out into a directory.

No engine builds images here, so this package reads the Containerfile with ``dockerfile-parse`` and
does what each instruction says, stage by stage, in a directory per stage that stands for the
image's filesystem.  Only what is listed in ``SUBSTITUTIONS`` is done otherwise; any other
instruction that cannot be carried out raises ``NotCarriedOut``.

The filesystem of a stage: the substituted base provides the system trees (``SYSTEM_TREES``, this
machine's own); every other absolute path of the image lives under the stage's root directory.
Values of ``ENV``/``ARG`` and the paths of ``WORKDIR``/``COPY`` are re-rooted so; a ``RUN`` line
reaches image paths only through such variables (a literal image path in it cannot be re-rooted
faithfully, and is refused).

``build()`` carries out the repository's Containerfile once per set of inputs and caches the final
stage under ``$LITEMAAS_CACHE/image-<hash>`` (``Image.root``); ``Image.host_env()`` and
``Image.command()`` run it as the image's entrypoint would.
"""

from containerfile.cache import CONTAINERFILE, build
from containerfile.image import BASE_IMAGE, Image, NotCarriedOut, reroot_value
from containerfile.instructions import carry_out, check
from containerfile.substitutions import GALAXY_DOWNLOAD, PACKAGE_MANAGER, SUBSTITUTIONS

__all__ = [
    "BASE_IMAGE",
    "CONTAINERFILE",
    "GALAXY_DOWNLOAD",
    "PACKAGE_MANAGER",
    "SUBSTITUTIONS",
    "Image",
    "NotCarriedOut",
    "build",
    "carry_out",
    "check",
    "reroot_value",
]
