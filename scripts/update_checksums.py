"""Check the shipped artefacts against their SHA-256 in ``medgan_utils/registry.py``, or record
new ones after a deliberate retrain.

    python scripts/update_checksums.py            # check every shipped file
    python scripts/update_checksums.py --update   # record the current SHA-256 of each

Commit the new weights together with ``medgan_utils/registry.py``.
"""

from __future__ import annotations

from medgan_utils.registry import main

if __name__ == "__main__":
    raise SystemExit(main())
