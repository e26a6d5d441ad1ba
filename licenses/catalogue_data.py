"""The license catalogue: every id the Hugging Face Hub accepts in a card's `license:` field.

This module is the source of truth; `licenses.services.catalogue_sync` copies it into the
`License` table (idempotently, after every migrate and flush). Summaries are ours: short and
plain, never legal advice; the license text always governs. Full texts come from the repo's own
LICENSE file, or else from the ScanCode license database packaged as `licensedcode-data`
(`text_key`); ids without a packaged text (vendor agreements, family ids) link to their source.
"""

from __future__ import annotations

from dataclasses import dataclass

HUB_DOCS = "https://huggingface.co/docs/hub/repositories-licenses"


def _spdx(identifier: str) -> str:
    return f"https://spdx.org/licenses/{identifier}.html"


@dataclass(frozen=True)
class Entry:
    id: str
    name: str
    family: str
    # permissive, copyleft, weak-copyleft, public-domain, non-commercial, responsible-ai, vendor,
    # research, data, unspecified
    kind: str
    link: str
    summary: str
    text_key: str = ""  # file stem in licensedcode-data (licensedcode/data/licenses/<key>.LICENSE)


# The RAIL family: behavioural-use restrictions that every derivative must carry (any RAIL
# license carries them: each one requires at least the same use-based restrictions downstream).
RAIL = {
    "openrail",
    "bigscience-openrail-m",
    "creativeml-openrail-m",
    "bigscience-bloom-rail-1.0",
    "bigcode-openrail-m",
    "openrail++",
}
# Repos under these licenses need each user's acknowledgment before downloading (authors may opt
# any other repo in).
ACKNOWLEDGMENT_BY_DEFAULT = frozenset(RAIL)
# Vendor agreements with acceptable-use terms; a derivative must stay under the same agreement.
VENDOR_RESTRICTED = {
    "llama2",
    "llama3",
    "llama3.1",
    "llama3.2",
    "llama3.3",
    "llama4",
    "gemma",
    "grok2-community",
    "deepfloyd-if-license",
    "fair-noncommercial-research-license",
}

_RAIL_NOTE = (
    " It lists uses that are not allowed (use-based restrictions); anyone who shares the model or a "
    "derivative must pass those restrictions on, and users must accept them."
)
_CC_PARTS = {
    "by": "credit the creator",
    "sa": "share adaptations under the same license",
    "nc": "not use it commercially",
    "nd": "not share adapted versions",
}


def _cc(code: str, version: str) -> Entry:
    parts = code.split("-")[1:]
    long = {"by": "Attribution", "sa": "Share Alike", "nc": "Non Commercial", "nd": "No Derivatives"}
    name = "Creative Commons " + " ".join(long[p] for p in parts) + f" {version}"
    duties = ", ".join(_CC_PARTS[p] for p in parts)
    kind = "non-commercial" if "nc" in parts else ("copyleft" if "sa" in parts else "permissive")
    slug = "-".join(parts)
    identifier = f"{code}-{version}"
    return Entry(
        id=identifier,
        name=name,
        family="Creative Commons",
        kind=kind,
        link=f"https://creativecommons.org/licenses/{slug}/{version}/legalcode",
        summary=f"Lets you copy and share the work{'' if 'nd' in parts else ' and adapt it'} if you {duties}. "
        "Creative Commons licenses are made for content and data rather than software.",
        text_key=identifier,
    )


ENTRIES: tuple[Entry, ...] = (
    Entry(
        "apache-2.0",
        "Apache license 2.0",
        "Apache",
        "permissive",
        "https://www.apache.org/licenses/LICENSE-2.0",
        "Permissive: use, modify and distribute for any purpose, including commercially. Keep the license and "
        "notices, state significant changes; includes an express patent grant.",
        "apache-2.0",
    ),
    Entry(
        "mit",
        "MIT",
        "MIT",
        "permissive",
        _spdx("MIT"),
        "Permissive: do almost anything with the work as long as the copyright and license notice stay with it. "
        "No warranty.",
        "mit",
    ),
    Entry(
        "openrail",
        "OpenRAIL license family",
        "OpenRAIL",
        "responsible-ai",
        "https://www.licenses.ai/blog/2022/8/18/naming-convention-of-responsible-ai-licenses",
        "The Open Responsible AI License family: open access and redistribution, with a list of prohibited "
        "uses." + _RAIL_NOTE,
    ),
    Entry(
        "bigscience-openrail-m",
        "BigScience OpenRAIL-M",
        "OpenRAIL",
        "responsible-ai",
        "https://bigscience.huggingface.co/blog/bigscience-openrail-m",
        "Royalty-free use, modification and distribution of the model and its outputs." + _RAIL_NOTE,
        "bigscience-open-rail-m",
    ),
    Entry(
        "creativeml-openrail-m",
        "CreativeML OpenRAIL-M",
        "OpenRAIL",
        "responsible-ai",
        "https://huggingface.co/spaces/CompVis/stable-diffusion-license",
        "The Stable Diffusion license: use, modify and share the model, commercially too; you are responsible "
        "for the outputs." + _RAIL_NOTE,
        "stable-diffusion-2022-08-22",
    ),
    Entry(
        "bigscience-bloom-rail-1.0",
        "BigScience BLOOM RAIL 1.0",
        "OpenRAIL",
        "responsible-ai",
        "https://bigscience.huggingface.co/blog/the-bigscience-rail-license",
        "The license of the BLOOM model: use and share the model and derivatives." + _RAIL_NOTE,
        "bigscience-rail-1.0",
    ),
    Entry(
        "bigcode-openrail-m",
        "BigCode Open RAIL-M v1",
        "OpenRAIL",
        "responsible-ai",
        "https://huggingface.co/spaces/bigcode/bigcode-model-license-agreement",
        "The license of BigCode's code models: use and share the model, commercially too." + _RAIL_NOTE,
        "bigcode-open-rail-m-v1",
    ),
    Entry(
        "afl-3.0",
        "Academic Free License v3.0",
        "AFL",
        "permissive",
        _spdx("AFL-3.0"),
        "Permissive with attribution and a patent grant; the license ends for anyone who sues over patents "
        "in the work.",
        "afl-3.0",
    ),
    Entry(
        "artistic-2.0",
        "Artistic license 2.0",
        "Artistic",
        "weak-copyleft",
        _spdx("Artistic-2.0"),
        "Use and share freely; modified versions must be clearly marked and either be made freely available "
        "or be renamed so they are not confused with the original.",
        "artistic-2.0",
    ),
    Entry(
        "bsl-1.0",
        "Boost Software License 1.0",
        "Boost",
        "permissive",
        _spdx("BSL-1.0"),
        "Permissive: keep the license with source copies; binaries need no notice.",
        "boost-1.0",
    ),
    Entry(
        "bsd",
        "BSD license family",
        "BSD",
        "permissive",
        "https://opensource.org/license/bsd-3-clause",
        "The BSD family of permissive licenses: keep the copyright notice and disclaimer; some versions also "
        "forbid using the authors' names for endorsement. The exact terms are in the repo's LICENSE file.",
    ),
    Entry(
        "bsd-2-clause",
        'BSD 2-clause "Simplified" license',
        "BSD",
        "permissive",
        _spdx("BSD-2-Clause"),
        "Permissive: keep the copyright notice and disclaimer in source and binary copies.",
        "bsd-simplified",
    ),
    Entry(
        "bsd-3-clause",
        'BSD 3-clause "New" or "Revised" license',
        "BSD",
        "permissive",
        _spdx("BSD-3-Clause"),
        "Permissive: keep the copyright notice and disclaimer, and don't use the authors' names to endorse "
        "derived products.",
        "bsd-new",
    ),
    Entry(
        "bsd-3-clause-clear",
        "BSD 3-clause Clear license",
        "BSD",
        "permissive",
        _spdx("BSD-3-Clause-Clear"),
        "Like BSD 3-clause, but it says explicitly that no patent rights are granted.",
        "clear-bsd",
    ),
    Entry(
        "c-uda",
        "Computational Use of Data Agreement",
        "C-UDA",
        "data",
        _spdx("C-UDA-1.0"),
        "For data: use it for computational analysis (such as training models); you may share the results "
        "but may not redistribute the data itself except as the agreement allows.",
        "c-uda-1.0",
    ),
    Entry(
        "cc",
        "Creative Commons license family",
        "Creative Commons",
        "unspecified",
        "https://creativecommons.org/licenses/",
        "One of the Creative Commons licenses; which one (and so what is allowed) is in the repo's LICENSE "
        "file or card.",
    ),
    Entry(
        "cc0-1.0",
        "Creative Commons Zero v1.0 Universal",
        "Creative Commons",
        "public-domain",
        "https://creativecommons.org/publicdomain/zero/1.0/legalcode",
        "A public-domain dedication: the authors waive their rights as far as the law allows. No conditions.",
        "cc0-1.0",
    ),
    _cc("cc-by", "2.0"),
    _cc("cc-by", "2.5"),
    _cc("cc-by", "3.0"),
    _cc("cc-by", "4.0"),
    _cc("cc-by-sa", "3.0"),
    _cc("cc-by-sa", "4.0"),
    _cc("cc-by-nc", "2.0"),
    _cc("cc-by-nc", "3.0"),
    _cc("cc-by-nc", "4.0"),
    _cc("cc-by-nd", "4.0"),
    _cc("cc-by-nc-nd", "3.0"),
    _cc("cc-by-nc-nd", "4.0"),
    _cc("cc-by-nc-sa", "2.0"),
    _cc("cc-by-nc-sa", "3.0"),
    _cc("cc-by-nc-sa", "4.0"),
    Entry(
        "cdla-sharing-1.0",
        "Community Data License Agreement – Sharing, Version 1.0",
        "CDLA",
        "data",
        _spdx("CDLA-Sharing-1.0"),
        "For data: use and share it; if you share the data or changed data, do so under this same agreement. "
        "Results of analysis are not restricted.",
        "cdla-sharing-1.0",
    ),
    Entry(
        "cdla-permissive-1.0",
        "Community Data License Agreement – Permissive, Version 1.0",
        "CDLA",
        "data",
        _spdx("CDLA-Permissive-1.0"),
        "For data: use, change and share it freely; keep the agreement's notices when you share the data.",
        "cdla-permissive-1.0",
    ),
    Entry(
        "cdla-permissive-2.0",
        "Community Data License Agreement – Permissive, Version 2.0",
        "CDLA",
        "data",
        _spdx("CDLA-Permissive-2.0"),
        "For data: use, change and share it freely; include the agreement's text or a link to it when you "
        "share the data. Results of computational use are not restricted.",
        "cdla-permissive-2.0",
    ),
    Entry(
        "wtfpl",
        "Do What The F*ck You Want To Public License",
        "WTFPL",
        "public-domain",
        _spdx("WTFPL"),
        "No conditions at all.",
        "wtfpl-2.0",
    ),
    Entry(
        "ecl-2.0",
        "Educational Community License v2.0",
        "ECL",
        "permissive",
        _spdx("ECL-2.0"),
        "Apache 2.0 with a narrower patent grant, written for educational institutions.",
        "ecl-2.0",
    ),
    Entry(
        "epl-1.0",
        "Eclipse Public License 1.0",
        "Eclipse",
        "weak-copyleft",
        _spdx("EPL-1.0"),
        "Weak copyleft: changes to EPL-licensed files must be shared under the EPL when distributed; other "
        "code combined with them may use other terms. Includes a patent grant.",
        "epl-1.0",
    ),
    Entry(
        "epl-2.0",
        "Eclipse Public License 2.0",
        "Eclipse",
        "weak-copyleft",
        _spdx("EPL-2.0"),
        "Weak copyleft like EPL 1.0, with optional compatibility with the GPL.",
        "epl-2.0",
    ),
    Entry(
        "etalab-2.0",
        "Etalab Open License 2.0",
        "Etalab",
        "permissive",
        _spdx("etalab-2.0"),
        "The French government's open license: reuse freely, including commercially, if you credit the "
        "source and date of the information.",
        "etalab-2.0",
    ),
    Entry(
        "eupl-1.1",
        "European Union Public License 1.1",
        "EUPL",
        "copyleft",
        _spdx("EUPL-1.1"),
        "Copyleft: distributed or network-provided changes must be shared under the EUPL or a listed "
        "compatible license.",
        "eupl-1.1",
    ),
    Entry(
        "eupl-1.2",
        "European Union Public License 1.2",
        "EUPL",
        "copyleft",
        _spdx("EUPL-1.2"),
        "Copyleft like EUPL 1.1, with a longer list of compatible licenses.",
        "eupl-1.2",
    ),
    Entry(
        "agpl-3.0",
        "GNU Affero General Public License v3.0",
        "GNU",
        "copyleft",
        _spdx("AGPL-3.0-only"),
        "Strong copyleft that also covers network use: if users interact with a modified version over a "
        "network, they must be offered its source.",
        "agpl-3.0",
    ),
    Entry(
        "gfdl",
        "GNU Free Documentation License family",
        "GNU",
        "copyleft",
        "https://www.gnu.org/licenses/fdl.html",
        "Copyleft for documentation: copies and changed versions must stay under the GFDL.",
    ),
    Entry(
        "gpl",
        "GNU General Public License family",
        "GNU",
        "copyleft",
        "https://www.gnu.org/licenses/gpl.html",
        "Strong copyleft: if you distribute the work or a derivative, you must share its source under the "
        "GPL. The version is in the repo's LICENSE file.",
    ),
    Entry(
        "gpl-2.0",
        "GNU General Public License v2.0",
        "GNU",
        "copyleft",
        _spdx("GPL-2.0-only"),
        "Strong copyleft: distributing the work or a derivative means sharing its source under GPL 2.0.",
        "gpl-2.0",
    ),
    Entry(
        "gpl-3.0",
        "GNU General Public License v3.0",
        "GNU",
        "copyleft",
        _spdx("GPL-3.0-only"),
        "Strong copyleft: distributing the work or a derivative means sharing its source under GPL 3.0; "
        "includes a patent grant and anti-lockdown terms.",
        "gpl-3.0",
    ),
    Entry(
        "lgpl",
        "GNU Lesser General Public License family",
        "GNU",
        "weak-copyleft",
        "https://www.gnu.org/licenses/lgpl.html",
        "Weak copyleft: changes to the library must be shared, but programs that only use it may have any "
        "license. The version is in the repo's LICENSE file.",
    ),
    Entry(
        "lgpl-2.1",
        "GNU Lesser General Public License v2.1",
        "GNU",
        "weak-copyleft",
        _spdx("LGPL-2.1-only"),
        "Weak copyleft: changes to the library must be shared under the LGPL; works that only use it may "
        "have any license.",
        "lgpl-2.1",
    ),
    Entry(
        "lgpl-3.0",
        "GNU Lesser General Public License v3.0",
        "GNU",
        "weak-copyleft",
        _spdx("LGPL-3.0-only"),
        "Weak copyleft built on GPL 3.0: changes to the library must be shared; works that only use it may "
        "have any license.",
        "lgpl-3.0",
    ),
    Entry(
        "isc",
        "ISC",
        "ISC",
        "permissive",
        _spdx("ISC"),
        "Permissive, functionally like MIT: keep the copyright and permission notice.",
        "isc",
    ),
    Entry(
        "h-research",
        "H Research License",
        "H",
        "research",
        HUB_DOCS,
        "A research license from the company H; read the repo's LICENSE file for what is allowed.",
    ),
    Entry(
        "intel-research",
        "Intel Research Use License Agreement",
        "Intel",
        "research",
        HUB_DOCS,
        "Intel's research-use agreement: for research and evaluation, not commercial use; read the repo's "
        "LICENSE file for the exact terms.",
    ),
    Entry(
        "lppl-1.3c",
        "LaTeX Project Public License v1.3c",
        "LPPL",
        "weak-copyleft",
        _spdx("LPPL-1.3c"),
        "Share and change freely, but changed versions must be renamed or clearly distinguished from the original.",
        "lppl-1.3c",
    ),
    Entry(
        "ms-pl",
        "Microsoft Public License",
        "Microsoft",
        "weak-copyleft",
        _spdx("MS-PL"),
        "Permissive with conditions: keep notices; source you distribute must stay under this license. "
        "Includes a patent grant.",
        "ms-pl",
    ),
    Entry(
        "apple-ascl",
        "Apple Sample Code license",
        "Apple",
        "permissive",
        HUB_DOCS,
        "Apple's sample-code terms: use, change and redistribute; keep Apple's notice with unmodified copies "
        "and don't use Apple's name to promote derived products.",
        "apple-excl",
    ),
    Entry(
        "apple-amlr",
        "Apple Model License for Research",
        "Apple",
        "research",
        HUB_DOCS,
        "Apple's research license for models: research use only, no commercial use; read the repo's LICENSE "
        "file for the exact terms.",
    ),
    Entry(
        "mpl-2.0",
        "Mozilla Public License 2.0",
        "Mozilla",
        "weak-copyleft",
        _spdx("MPL-2.0"),
        "File-level copyleft: changes to MPL-licensed files must be shared under the MPL; they can be "
        "combined with code under other licenses.",
        "mpl-2.0",
    ),
    Entry(
        "odc-by",
        "Open Data Commons License Attribution family",
        "Open Data Commons",
        "data",
        _spdx("ODC-By-1.0"),
        "For databases: use, share and adapt the data if you credit the source as the license requires.",
        "odc-by-1.0",
    ),
    Entry(
        "odbl",
        "Open Database License family",
        "Open Data Commons",
        "data",
        _spdx("ODbL-1.0"),
        "For databases: use and adapt freely with attribution; share adapted databases under the ODbL and "
        "keep them open.",
        "odbl-1.0",
    ),
    Entry(
        "openmdw-1.0",
        "Open Model, Data & Weights License Agreement",
        "OpenMDW",
        "permissive",
        HUB_DOCS,
        "A permissive agreement covering a model's weights, code and data together; read the repo's LICENSE "
        "file for the exact terms.",
    ),
    Entry(
        "openmdw-1.1",
        "Open Model, Data & Weights License Agreement v1.1",
        "OpenMDW",
        "permissive",
        HUB_DOCS,
        "Version 1.1 of the permissive Open Model, Data & Weights agreement; read the repo's LICENSE file for "
        "the exact terms.",
    ),
    Entry(
        "openrail++",
        "Open Rail++-M License",
        "OpenRAIL",
        "responsible-ai",
        "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/blob/main/LICENSE.md",
        "The license of Stable Diffusion XL: use, change and share the model, commercially too." + _RAIL_NOTE,
    ),
    Entry(
        "osl-3.0",
        "Open Software License 3.0",
        "OSL",
        "copyleft",
        _spdx("OSL-3.0"),
        "Copyleft that also covers providing the work over a network; includes a patent grant.",
        "osl-3.0",
    ),
    Entry(
        "postgresql",
        "PostgreSQL License",
        "PostgreSQL",
        "permissive",
        _spdx("PostgreSQL"),
        "Permissive, like MIT or BSD: keep the copyright notice and disclaimer.",
        "postgresql",
    ),
    Entry(
        "ofl-1.1",
        "SIL Open Font License 1.1",
        "SIL",
        "weak-copyleft",
        _spdx("OFL-1.1"),
        "For fonts: use, embed and share freely; don't sell the fonts on their own, and modified fonts must "
        "stay under the OFL and not use reserved names.",
        "ofl-1.1",
    ),
    Entry(
        "ncsa",
        "University of Illinois/NCSA Open Source License",
        "NCSA",
        "permissive",
        _spdx("NCSA"),
        "Permissive, combining MIT and BSD terms: keep notices, don't use the authors' names for endorsement.",
        "uoi-ncsa",
    ),
    Entry(
        "unlicense",
        "The Unlicense",
        "Unlicense",
        "public-domain",
        _spdx("Unlicense"),
        "A public-domain dedication with a permissive fallback: no conditions.",
        "unlicense",
    ),
    Entry(
        "zlib",
        "zLib License",
        "zlib",
        "permissive",
        _spdx("Zlib"),
        "Permissive: don't misrepresent the origin, mark altered versions, and keep the notice in source copies.",
        "zlib",
    ),
    Entry(
        "pddl",
        "Open Data Commons Public Domain Dedication and License",
        "Open Data Commons",
        "public-domain",
        _spdx("PDDL-1.0"),
        "Places a database in the public domain: no conditions.",
        "pddl-1.0",
    ),
    Entry(
        "lgpl-lr",
        "Lesser General Public License For Linguistic Resources",
        "GNU",
        "weak-copyleft",
        _spdx("LGPLLR"),
        "The LGPL adapted for dictionaries and other linguistic resources: changes to the resource must be "
        "shared under the same license.",
        "lgpllr",
    ),
    Entry(
        "deepfloyd-if-license",
        "DeepFloyd IF Research License Agreement",
        "DeepFloyd",
        "vendor",
        "https://huggingface.co/spaces/DeepFloyd/deepfloyd-if-license",
        "Research-only use of the DeepFloyd IF models, no commercial use; includes prohibited uses that "
        "derivatives must keep.",
    ),
    Entry(
        "fair-noncommercial-research-license",
        "FAIR Noncommercial Research License",
        "Meta",
        "vendor",
        HUB_DOCS,
        "Meta FAIR's license for research releases: non-commercial research use only; includes an "
        "acceptable-use policy that derivatives must keep.",
    ),
    Entry(
        "llama2",
        "Llama 2 Community License Agreement",
        "Llama",
        "vendor",
        "https://ai.meta.com/llama/license/",
        "Use, change and share Llama 2 and derivatives, commercially too, under Meta's acceptable-use policy; "
        "very large services (over 700 million monthly users) need a separate license from Meta.",
        "llama-2-license-2023",
    ),
    Entry(
        "llama3",
        "Llama 3 Community License Agreement",
        "Llama",
        "vendor",
        "https://llama.meta.com/llama3/license/",
        "Use, change and share Llama 3 and derivatives under Meta's acceptable-use policy, with attribution "
        '("Built with Meta Llama 3"); very large services need a separate license.',
    ),
    Entry(
        "llama3.1",
        "Llama 3.1 Community License Agreement",
        "Llama",
        "vendor",
        "https://llama.meta.com/llama3_1/license/",
        "Use, change and share Llama 3.1 and derivatives under Meta's acceptable-use policy, with attribution "
        '("Built with Llama"); very large services need a separate license.',
    ),
    Entry(
        "llama3.2",
        "Llama 3.2 Community License Agreement",
        "Llama",
        "vendor",
        "https://www.llama.com/llama3_2/license/",
        "Use, change and share Llama 3.2 and derivatives under Meta's acceptable-use policy, with attribution; "
        "very large services need a separate license.",
    ),
    Entry(
        "llama3.3",
        "Llama 3.3 Community License Agreement",
        "Llama",
        "vendor",
        "https://www.llama.com/llama3_3/license/",
        "Use, change and share Llama 3.3 and derivatives under Meta's acceptable-use policy, with attribution; "
        "very large services need a separate license.",
    ),
    Entry(
        "llama4",
        "Llama 4 Community License Agreement",
        "Llama",
        "vendor",
        "https://www.llama.com/llama4/license/",
        "Use, change and share Llama 4 and derivatives under Meta's acceptable-use policy, with attribution; "
        "very large services need a separate license.",
    ),
    Entry(
        "grok2-community",
        "Grok 2 Community License Agreement",
        "xAI",
        "vendor",
        HUB_DOCS,
        "xAI's community license for Grok 2 weights, with an acceptable-use policy that derivatives must "
        "keep; read the repo's LICENSE file for the exact terms.",
    ),
    Entry(
        "gemma",
        "Gemma Terms of Use",
        "Gemma",
        "vendor",
        "https://ai.google.dev/gemma/terms",
        "Use, change and share Gemma models and derivatives, commercially too, under Google's prohibited-use "
        "policy, which derivatives and their users must also follow.",
    ),
    Entry(
        "unknown",
        "Unknown",
        "Unknown",
        "unspecified",
        HUB_DOCS,
        "The authors have not said which license applies. Without a license, assume no rights beyond "
        "viewing; ask the authors.",
    ),
    Entry(
        "other",
        "Other",
        "Other",
        "unspecified",
        HUB_DOCS,
        "A license not in this list: its name is in the card's `license_name` and its text in the repo's "
        "LICENSE file or at `license_link`.",
    ),
)


def restriction_group(license_id: str) -> str:
    """Licenses in one group carry each other's use restrictions: all RAIL licenses form one group;
    each vendor agreement is its own group (a Llama 2 derivative stays under Llama 2)."""
    if license_id in RAIL:
        return "rail"
    if license_id in VENDOR_RESTRICTED:
        return license_id
    return ""
