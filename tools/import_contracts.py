"""A custom import-linter contract: which submodules of an external package a module may import.

import-linter (through grimp) squashes external packages to their top-level name, so its own
`forbidden` contract can say "no algosdk" but not "no algosdk.error while algosdk.encoding is
fine". Our network rule needs the second: only `algo_tracer.network` talks to algod, the Indexer
or KMD (their clients and HTTP errors), while encoding helpers and transaction types may be used
anywhere. This contract reads the import lines grimp records and matches the dotted names.
"""

from __future__ import annotations

import re

import grimp
from importlinter import Contract, ContractCheck, fields, output

_IMPORTED = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+(.+)|import\s+(.+))$")


class ExternalSubmodulesContract(Contract):
    """Modules of `source_modules` outside `allowed_importers` must not import `forbidden_modules`.

    Options:
        source_modules: our packages the rule applies to (as packages).
        forbidden_modules: dotted names inside external packages (algosdk.error, ...).
        allowed_importers: our packages that may import them (as packages).
    """

    type_name = "external_submodules"

    source_modules = fields.ListField(subfield=fields.StringField())
    forbidden_modules = fields.ListField(subfield=fields.StringField())
    allowed_importers = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        forbidden = [str(m) for m in self.forbidden_modules]
        allowed = [str(m) for m in self.allowed_importers]
        sources = [str(m) for m in self.source_modules]
        tops = {name.split(".")[0] for name in forbidden}
        violations: list[str] = []
        for top in sorted(tops):
            if top not in graph.modules:
                continue
            for importer in sorted(graph.find_modules_that_directly_import(top)):
                if not _within(importer, sources) or _within(importer, allowed):
                    continue
                for detail in graph.get_import_details(importer=importer, imported=top):
                    hits = [name for name in _names(str(detail["line_contents"]))
                            if any(name == f or name.startswith(f + ".") for f in forbidden)]
                    if hits:
                        violations.append(f"{importer}:{detail['line_number']} imports "
                                          f"{hits[0]} ({detail['line_contents'].strip()})")
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for line in check.metadata["violations"]:
            output.print_error(f"- {line}")
        output.new_line()
        output.print("Move the call into algo_tracer.network and raise our errors from there.")


def _within(module: str, packages: list[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _names(line: str) -> list[str]:
    """The dotted names an import line brings in: `from a.b import c, d` gives a.b.c and a.b.d."""
    match = _IMPORTED.match(line.strip().rstrip("\\"))
    if not match:
        return []
    module, names, plain = match.groups()
    if plain is not None:
        return [part.split(" as ")[0].strip() for part in plain.split(",")]
    names = names.strip().strip("()")
    return [module] + [f"{module}.{part.split(' as ')[0].strip()}"
                       for part in names.split(",") if part.strip()]
