"""`curate translate`: SFT and preference data translated field by field, its structure kept.

command.py    the job: read, ask, check, answer anew (--regenerate-answers), write
fields.py     a row's text fields, and the row rebuilt from their translations
spans.py      protected spans (code, URLs, placeholders, numbers, tags) and code-block masks
checks.py     the checks of a translated field: language ID, length ratio, spans kept
languages.py  ISO 639-1 codes, names, and how long each language's text runs
report.py     report.md
"""

from curate.instruct.translate.command import TranslateSettings, translate_dataset

__all__ = ["TranslateSettings", "translate_dataset"]
