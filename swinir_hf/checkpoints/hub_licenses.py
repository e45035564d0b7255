"""The Hub's license ids, which a model card's `license` must be one of (`swinir-hf hub --license`,
`train.license`); torch- and transformers-free, for the command lines' argument checks."""

from __future__ import annotations

import difflib

# The license ids the Hub knows (https://huggingface.co/docs/hub/repositories-licenses; huggingface_hub ships no
# list): it rejects a card with another, or shows it as no license. `other` is for terms of one's own, which the Hub
# wants named by `license_name` and `license_link` in the card's YAML.
HUB_LICENSES = (
    "apache-2.0 mit openrail bigscience-openrail-m creativeml-openrail-m bigscience-bloom-rail-1.0 bigcode-openrail-m "
    "afl-3.0 artistic-2.0 bsl-1.0 bsd bsd-2-clause bsd-3-clause bsd-3-clause-clear c-uda cc cc0-1.0 cc-by-2.0 "
    "cc-by-2.5 cc-by-3.0 cc-by-4.0 cc-by-sa-3.0 cc-by-sa-4.0 cc-by-nc-2.0 cc-by-nc-3.0 cc-by-nc-4.0 cc-by-nd-4.0 "
    "cc-by-nc-nd-3.0 cc-by-nc-nd-4.0 cc-by-nc-sa-2.0 cc-by-nc-sa-3.0 cc-by-nc-sa-4.0 cdla-sharing-1.0 "
    "cdla-permissive-1.0 cdla-permissive-2.0 wtfpl ecl-2.0 epl-1.0 epl-2.0 etalab-2.0 eupl-1.1 eupl-1.2 agpl-3.0 gfdl "
    "gpl gpl-2.0 gpl-3.0 lgpl lgpl-2.1 lgpl-3.0 isc h-research intel-research lppl-1.3c ms-pl apple-ascl apple-amlr "
    "mpl-2.0 odc-by odbl openmdw-1.0 openrail++ osl-3.0 postgresql ofl-1.1 ncsa unlicense zlib pddl lgpl-lr "
    "deepfloyd-if-license fair-noncommercial-research-license llama2 llama3 llama3.1 llama3.2 llama3.3 llama4 gemma "
    "unknown other"
).split()


def hub_license(license: str) -> str:
    """`license` as the Hub's id (`HUB_LICENSES`), in any case ("MIT" → "mit": the ids are lower-case and the Hub
    matches them exactly); `ValueError` naming close ones and `other` for any other."""
    if license.lower() in HUB_LICENSES:
        return license.lower()
    close = difflib.get_close_matches(license.lower(), HUB_LICENSES, n=3)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise ValueError(
        f"{license!r} is not a Hub license id{hint}: see https://huggingface.co/docs/hub/repositories-licenses; for "
        "terms of your own use 'other' and add license_name and license_link to the card's YAML header"
    )
