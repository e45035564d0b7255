"""The Hub's license ids, which a model card's `license` must be one of (`swinir-hf hub --license`,
`train.license`); torch- and transformers-free, for the command lines' argument checks."""

from __future__ import annotations

import difflib
import re

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


class UnknownLicenseError(ValueError):
    """`hub_license`'s refusal of a license that is not a Hub id: it names the value, and a caller its option."""


def hub_license(license: str) -> str:
    """`license` as the Hub's id (`HUB_LICENSES`), in any case ("MIT" → "mit": the ids are lower-case and the Hub
    matches them exactly); `UnknownLicenseError` naming close ones and `other` for any other."""
    if license.lower() in HUB_LICENSES:
        return license.lower()
    close = difflib.get_close_matches(license.lower(), HUB_LICENSES, n=3)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise UnknownLicenseError(
        f"{license!r} is not a Hub license id{hint}: see https://huggingface.co/docs/hub/repositories-licenses; for "
        "terms of your own use 'other' and give their license_name and license_link"
    )


# The Hub's model card spec asks `other` to name its terms by an id "like my-license-1.0" (`license_name`), with
# `license_link` a file in the repo ("LICENSE", "LICENSE.md") or a URL; huggingface_hub's `ModelCardData` takes the
# two together, and only for a license not among the Hub's ids.
_LICENSE_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
LicenseTerms = tuple[str | None, str | None, str | None]


def license_terms(
    license: str | None,
    name: str | None = None,
    link: str | None = None,
    *,
    spelled: tuple[str, str, str] = ("license", "license_name", "license_link"),
) -> LicenseTerms:
    """(license, license_name, license_link) as a card's YAML header writes them: `license` a Hub id (`hub_license`),
    the name (an id, lower-case) and link of terms of one's own with `other` only, and `other` only with both.
    `spelled`: how the caller's options are written, for the messages. `ValueError` for any other."""
    option, name_option, link_option = spelled
    if license is not None:
        license = hub_license(license)
    if (name is not None or link is not None) and license != "other":
        given = name_option if name is not None else link_option
        said = f"{option} is {license}" if license else f"no {option} is given"
        raise ValueError(f"{given} names terms of your own, for {option} other only ({said})")
    if license == "other" and not (name and link):
        raise ValueError(
            f"{option} other needs {name_option}, the id the Hub shows for your terms (e.g. my-license-1.0), and "
            f"{link_option}, where to read them (LICENSE, a file in the repo, or a URL)"
        )
    if name is not None:
        name = name.lower()  # an id, as the Hub's license ids
        if not _LICENSE_NAME.fullmatch(name):
            raise ValueError(
                f"{name_option} {name!r} is not an id: letters, digits, '.', '-' and '_', as my-license-1.0"
            )
    if link is not None and any(c.isspace() for c in link):
        raise ValueError(f"{link_option} {link!r} is not a file name or URL (percent-encode spaces: %20)")
    return license, name, link
